"""The asynchronous mosaic job (``<base>/mosaic``, UWS 1.1): a mosaic made by many workers.

No machine makes the whole mosaic. The API plans it when the job is queued
(`skycut.mosaic.job.planning`: the inputs found, their headers read, the
grid cut into tiles, one reprojection task per (input, tile)) and stores the
plan in the job document (`skycut.jobs.mosaic_state.MosaicState`). Then each
stage is a set of Pub/Sub messages on the mosaic topic (`skycut.mosaic.job.queue`),
each naming a few of the stage's units, run by the ``mosaic_worker`` function
(`skycut.mosaic.job.runner`):

1. ``reproject``: one unit per task; reads only the task's box of its input
   (range requests pinned to the generation planned) and stores the
   reprojected plane under the job (`skycut.mosaic.job.scratch`);
2. ``overlaps`` (only with ``BACKGROUND=match``): one unit per tile; the
   pair sums of the tile's planes; the worker that counts the last one
   solves the backgrounds globally, once, and stores the planes in the job;
3. ``assemble``: one unit per row of tiles; each tile's planes,
   backgrounds subtracted, combined, and the band of every FITS plane those
   tiles make (whole rows, one byte range of the file) stored as an object
   of its own, with the band's binned preview;
4. ``finish``: one unit, run by the delivery that counts the last band
   (published only if that delivery fails, or by the sweep): the headers,
   padding and provenance table stored, the file joined from them and the
   bands by Cloud Storage's compose, the preview rendered; the results
   recorded, the job completed and announced, the intermediates deleted.

Each unit is counted once (`skycut.jobs.progress` receipts, as cutout
messages are), and the job's progress is the units done of all stages. The
worker that counts a stage's last unit moves the job to the next stage by a
compare-and-set on the job document, so only one of any concurrent or
redelivered deliveries does, and publishes the next stage's messages (what
`skycut.mosaic.job.stages` computes is the same whoever runs it).
"""
