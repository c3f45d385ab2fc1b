from .cli import main

# Guarded: --workers spawns Dask worker processes, which import the main module again (issue #14).
if __name__ == "__main__":
    main()
