"""The local web studio: one static page over a small FastAPI app.

Layers: this package sits on top (beside the CLI); it builds renders with
:func:`flowstyle.render.render` and previews with the same stylizers and
temporal step as the pipeline, so the studio and the CLI share one engine.
"""
