"""A KPI's result drawn twice from the same spec: an interactive Plotly figure (the portal) and a
small PNG (matplotlib; the KPI asset's Markdown metadata in the Dagster UI). Each bar/line trace
carries its rows' dimensions as `customdata`, so a reader of the figure (hover, a test) can tell
which row every value is."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: the PNG is rendered in a worker or a web server

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.express as px  # noqa: E402
import plotly.graph_objects as go  # noqa: E402

from wdc_orchestration.kpis.spec import KpiSpec  # noqa: E402

PNG_SIZE = (6.4, 3.6)  # inches at 100 dpi: small enough for the asset's metadata panel
PNG_DPI = 100


def _prepared(spec: KpiSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Dimensions as text (dates become YYYY-MM-DD), the measure as float."""
    frame = frame.copy()
    for column in spec.chart.columns():
        if column == spec.chart.measure:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
        elif pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].dt.strftime("%Y-%m-%d")
        else:
            frame[column] = frame[column].astype(str)
    return frame


def _heatmap_matrix(spec: KpiSpec, frame: pd.DataFrame) -> pd.DataFrame:
    chart = spec.chart
    return frame.pivot_table(index=chart.y, columns=chart.x, values=chart.value, aggfunc="mean")


def plotly_figure(spec: KpiSpec, frame: pd.DataFrame) -> go.Figure:
    """The interactive chart of a KPI's result."""
    chart = spec.chart
    data = _prepared(spec, frame)
    labels = {chart.x: chart.x_title or chart.x, chart.y: chart.y_title or chart.y}
    if chart.kind == "heatmap":
        matrix = _heatmap_matrix(spec, data)
        figure = px.imshow(
            matrix,
            text_auto=".1f",
            aspect="auto",
            color_continuous_scale="RdYlGn_r",
            color_continuous_midpoint=0,
            labels={"x": labels[chart.x], "y": labels[chart.y], "color": chart.value},
        )
    else:
        dimensions = [c for c in (chart.x, chart.color, chart.facet) if c]
        draw = px.bar if chart.kind == "bar" else px.line
        figure = draw(
            data.sort_values(dimensions),
            x=chart.x,
            y=chart.y,
            color=chart.color,
            facet_col=chart.facet,
            custom_data=dimensions,
            labels=labels,
        )
        if chart.kind == "line":
            figure.update_traces(mode="lines+markers")
    figure.update_layout(title=spec.title, margin={"t": 60, "l": 40, "r": 20, "b": 40})
    return figure


def png(spec: KpiSpec, frame: pd.DataFrame) -> bytes:
    """The same chart as a small PNG."""
    chart = spec.chart
    data = _prepared(spec, frame)
    facets = sorted(data[chart.facet].unique()) if chart.facet else [None]
    figure, axes = plt.subplots(
        1,
        max(len(facets), 1),
        figsize=PNG_SIZE,
        dpi=PNG_DPI,
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    for axis, facet in zip(axes[0], facets, strict=True):
        part = data if facet is None else data[data[chart.facet] == facet]
        if chart.kind == "heatmap":
            matrix = _heatmap_matrix(spec, part)
            limit = max(abs(matrix.min().min()), abs(matrix.max().max()), 1e-9)
            image = axis.imshow(
                matrix.values, cmap="RdYlGn_r", vmin=-limit, vmax=limit, aspect="auto"
            )
            axis.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=90, fontsize=6)
            axis.set_yticks(range(len(matrix.index)), matrix.index, fontsize=6)
            figure.colorbar(image, ax=axis, shrink=0.8)
        else:
            table = (
                part.pivot_table(index=chart.x, columns=chart.color, values=chart.y, aggfunc="sum")
                if chart.color
                else part.groupby(chart.x)[chart.y].sum()
            )
            table.plot(kind=chart.kind, ax=axis, stacked=chart.kind == "bar", legend=False)
            axis.tick_params(axis="x", labelsize=6, rotation=45)
            axis.tick_params(axis="y", labelsize=6)
        axis.set_title(str(facet) if facet is not None else "", fontsize=7)
        axis.set_xlabel(chart.x_title or chart.x, fontsize=7)
    axes[0][0].set_ylabel(chart.y_title or chart.y, fontsize=7)
    if chart.kind != "heatmap" and chart.color:
        handles, names = axes[0][0].get_legend_handles_labels()
        figure.legend(handles, names, fontsize=5, loc="outside right upper", ncols=2)
    figure.suptitle(spec.title, fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
