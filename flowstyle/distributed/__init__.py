"""Feature-length renders as tasks: shots and segments planned up front
(plan), each rendered to its own file (tasks) on a Dask ``distributed`` cluster
(engine), kept in a resume folder (workdir) and joined by stream copy (finish).

This is the top layer beside the CLI: it imports the render pieces, nothing imports it.
"""
