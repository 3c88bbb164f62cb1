"""The frame around every page: the portal's name, the navigation bar and who is signed in."""

from taipy.gui import Markdown, State

whoami = ""


def show_user(state: State, label: str) -> None:
    state.whoami = f"Signed in as {label}" if label else ""


page = Markdown(
    """
<|layout|columns=auto 1 auto|class_name=align-columns-center|
**WDC Data Mesh · data-product portal**

<|navbar|>

<|part|
<|{whoami}|text|id=whoami|> · [Sign out](/signout)
|>
|>
"""
)
