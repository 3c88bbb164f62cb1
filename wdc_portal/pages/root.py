"""The frame around every page: the portal's name and the navigation bar."""

from taipy.gui import Markdown

page = Markdown(
    """
<|layout|columns=auto 1|class_name=align-columns-center|
**WDC Data Mesh · data-product portal**

<|navbar|>
|>
"""
)
