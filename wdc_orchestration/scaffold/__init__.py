"""`wdc new-domain NAME --team T --owner EMAIL`: a new domain that runs at once.

names.py decides whether NAME may be a domain (and what the scaffold calls its parts), render.py
renders every file from the shapes in templates/ (the product's dbt YAML through the contract
sync), project_files.py adds the domain to dbt_project.yml and workspace.yaml, write.py puts it
all on disk, and cli.py is the command."""
