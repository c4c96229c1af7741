"""skycut: serverless IVOA SODA image cutouts on Google Cloud."""

__all__ = ["__version__"]

__version__ = "0.1.0"
