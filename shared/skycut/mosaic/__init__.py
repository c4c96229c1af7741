"""Mosaics across image boundaries: the computational core (issue #14).

Pure numpy/astropy/reproject, no cloud imports: every stage takes arrays
and WCSs and returns arrays, dataclasses or bytes, so each runs in whichever
worker a Pub/Sub message lands on. The stages, in the order a job runs them:

1. **Grid** (`skycut.mosaic.grid`): the output grid from a ``POS`` region
   (`grid_for_region`), explicit parameters (`grid_from_parameters`) or a
   header ``TEMPLATE`` (`grid_from_template`), as an `OutputGrid` (WCS and
   shape). Ship it between workers as ``grid.header().tostring()`` and
   rebuild it with `grid_from_template`.
2. **Plan** (`skycut.mosaic.plan`): ``plan_mosaic(grid, inputs,
   tile_size=..., method=..., max_inputs=..., region=POS)`` takes the
   candidates the index found (`InputImage`: ID, WCS and shape from the
   stored header) and returns a `MosaicPlan`: the `Tiling` and one
   `ReprojectTask` (input, tile, pixel box) per overlapping pair, JSON-ready
   for the Pub/Sub fan-out; no input on the grid is a `NoOverlapError`
   naming the region. (Underneath: `Tiling.touched_by`, then
   `skycut.mosaic.reproject_tile.input_box`.)
3. **Reproject** (`skycut.mosaic.reproject_tile`): read the box with the
   cutout engine's range reads, then
   ``reproject_to_tile(pixels, wcs, tiling.tile(row, col), method=..., box=box)``
   gives a `TilePlane` (values and footprint); store it with
   `skycut.mosaic.intermediate.encode_tile_plane` (under the job).
4. **Background** (`skycut.mosaic.background`, when ``BACKGROUND=match``):
   per tile, ``tile_overlaps(planes_by_input, box=tile.box, grid_shape=...)``
   reduces every overlapping pair to `OverlapSums`; add them up over tiles
   (`add_sums`), then one ``solve_backgrounds(sums, input_ids, reference=...)``
   gives each input's `Plane`.
5. **Coadd** (`skycut.mosaic.coadd`): per tile, subtract each input's plane
   (`background.correct`) and ``coadd_tile(planes, shape=tile.shape,
   combine=...)``: values, coverage and count.
6. **Assemble** (`skycut.mosaic.assemble`): ``MosaicWriter(path, grid,
   planes=...)``, ``write(plane, tile.box, values)`` per tile in any order,
   ``finish(inputs)`` appends the provenance table; one tile in memory.
7. **Preview** (`skycut.mosaic.preview`): a `PreviewCanvas` fed the same
   tiles, then `render_mosaic_preview`, or `render_rgb_preview` of three
   bands' canvases.

For a small output (the sync form) `skycut.mosaic.inprocess.make_mosaic`
runs stages 2-5 in one process, reading each box through a callback. The
asynchronous job (``<base>/mosaic``) runs them across workers over Pub/Sub:
`skycut.mosaic.job`, the one sub-package here that talks to the cloud (the
job store, the mosaic topic, the results bucket).

Modes: ``METHOD`` ``bilinear``/``bicubic`` (interpolation) or ``exact``
(flux-conserving); ``COMBINE`` ``mean``, ``median``, ``sum``, ``weighted``.
"""
