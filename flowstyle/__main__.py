from .cli import main

# Guarded: --workers spawns Dask worker processes, which import the main module again.
if __name__ == "__main__":
    main()
