"""The footprint index: which images cover a sky position (issue #13).

Pure modules, no cloud imports: :mod:`~skycut.index.footprint` outlines an
image from its header, :mod:`~skycut.index.cells` turns outlines and
queries into HEALPix cell ids to look up, :mod:`~skycut.index.match` tells
exactly whether an outline meets a query, and :mod:`~skycut.index.metadata`
reads the ObsCore-like facts of an image from its header,
:mod:`~skycut.index.scan` puts them together for one object. The entries
(:mod:`~skycut.index.record`) are kept by an :class:`~skycut.index.store.ImageIndex`:
:mod:`~skycut.index.firestore_index` (the one module here that talks to
Google) or :mod:`~skycut.index.memory_index`; :mod:`~skycut.index.indexer`
applies object events to one.
"""
