"""The portal's pages, one module each: its Taipy Markdown (`page`), its variables (Taipy copies
them into each browser session's state) and `load(state, params)`, called on every navigation
to it so a page always shows the lake and the instance as they are now."""
