"""Rows and jobs without ID: cut from every indexed image covering the position, found once."""

from __future__ import annotations

import pytest

from skycut.bulk.formats import read_rows
from skycut.bulk.found import FoundRecorder, FoundReplay
from skycut.bulk.manifest import manifest_csv, manifest_rows
from skycut.bulk.report import errors_report, read_errors_report
from skycut.bulk.rows import tasks_from_rows
from skycut.errors import UsageError
from skycut.index.memory_index import MemoryImageIndex
from skycut.jobs.records import StoredResult
from skycut.sia.covering import CoveringImages, covered_works
from skycut.soda.params import group_params, parse_soda_request
from tests.unit.test_sia_select import BUCKET, FIELD, survey

ON_FIELD = f"{FIELD[0] + 0.001},{FIELD[1] + 0.001},0.0005"
FAR_AWAY = "10.0,-60.0,0.001"


@pytest.fixture
def index() -> MemoryImageIndex:
    index = MemoryImageIndex()
    for record in survey().values():
        index.put(record)
    return index


def covering(index: MemoryImageIndex, limit: int = 100) -> CoveringImages:
    return CoveringImages(lambda: index, source_buckets=[BUCKET], limit=limit)


def parse(index, data: str, *, limit=100, max_cutouts=None, find=None):
    return tasks_from_rows(
        read_rows(data.encode(), "csv", max_rows=100),
        allowed_buckets=[BUCKET],
        options={},
        find=find or FoundRecorder(covering(index, limit)),
        max_cutouts=max_cutouts,
    )


def test_a_row_without_id_is_cut_from_every_image_covering_it_oldest_first(index):
    images = survey()
    rows = parse(index, f"ra,dec,radius,label\n{ON_FIELD},star-1\n")
    assert rows.bad == []
    by_index = sorted(rows.tasks, key=lambda t: t.index)
    expected = [images[k] for k in ("cube", "g", "nofilter", "r", "coadd")]  # by start time
    assert [t.source_id for t in by_index] == [r.image_id for r in expected]
    assert {t.row for t in rows.tasks} == {2}
    assert {t.label for t in rows.tasks} == {"star-1"}
    found = {t.source_id: t.image for t in rows.tasks}
    g = found[images["g"].image_id]
    assert g is not None
    assert (g.collection, g.band, g.mjd) == (images["g"].metadata.obs_collection, "g", 60000.1)
    assert found[images["coadd"].image_id].mjd is None
    # the stencil is the row's, on every image
    assert {t.work.describe() for t in rows.tasks} == {"CIRCLE=150.001 2.001 0.0005"}
    assert rows.outcomes == 5
    assert rows.total_rows == 1


def test_collection_dptype_band_and_time_choose_among_the_covering_images(index):
    images = survey()
    rows = parse(
        index,
        "ra,dec,radius,dptype,band,time\n"
        f"{ON_FIELD},image,,\n"
        f"{ON_FIELD},,5e-7 5e-7,\n"
        f"{ON_FIELD},,,60009 60011\n",
    )
    chosen = {line: set() for line in (2, 3, 4)}
    for task in rows.tasks:
        chosen[task.row].add(task.source_id)
    assert images["cube"].image_id not in chosen[2]
    assert len(chosen[2]) == 4
    assert chosen[3] == {images["g"].image_id}  # 500 nm: only g; unknown bands never match
    assert chosen[4] == {images["r"].image_id}
    collection = images["g"].metadata.obs_collection
    rows = parse(index, f"ra,dec,radius,collection\n{ON_FIELD},{collection}\n{ON_FIELD},nothing\n")
    same = {r.image_id for r in images.values() if r.metadata.obs_collection == collection}
    assert {t.source_id for t in rows.tasks if t.row == 2} == same - {images["far"].image_id}
    assert [(b.line, b.status) for b in rows.bad] == [(3, "no_image")]
    assert "collection nothing" in rows.bad[0].reason


def test_a_position_nothing_covers_is_a_no_image_line_not_a_gap(index):
    rows = parse(index, f"ra,dec,radius,label\n{FAR_AWAY},lonely\n{ON_FIELD},\n")
    assert [(b.line, b.status, b.label) for b in rows.bad] == [(2, "no_image", "lonely")]
    assert "no indexed image covers CIRCLE 10.0 -60.0 0.001" in rows.bad[0].reason
    assert rows.outcomes == 6  # five cutouts and the uncovered row
    results = [
        StoredResult(
            result_id=f"cutout-{t.index:06d}",
            index=t.index,
            status="ok",
            bucket="r",
            object_name=f"jobs/j/cutout-{t.index:06d}.fits",
            mime_type="application/fits",
            size=1,
            label=t.label,
            source_id=t.source_id,
            query=t.work.describe(),
            row=t.row,
            found=t.image,
        )
        for t in rows.tasks
    ]
    refused = read_errors_report(errors_report(rows.bad))
    assert refused == rows.bad  # the status survives the report
    lines = manifest_rows(results, refused=refused, url_of={})
    assert (lines[0].row, lines[0].status) == (2, "no_image")
    on_field = lines[1:]
    assert [m.mjd for m in on_field] == [*sorted(m.mjd for m in on_field if m.mjd), ""]
    g = next(m for m in on_field if m.band == "g")
    assert (g.mjd, g.collection) == ("60000.100000", survey()["g"].metadata.obs_collection)
    header = manifest_csv(lines).decode().splitlines()[0]
    assert header.startswith("row,label,id,collection,band,mjd,stencil,status")


def test_too_many_images_for_one_position_is_that_rows_error(index):
    rows = parse(index, f"ra,dec,radius\n{ON_FIELD}\n{FAR_AWAY}\n", limit=3)
    assert [(b.line, b.status) for b in rows.bad] == [(2, "error"), (3, "no_image")]
    assert "more than 3 images cover CIRCLE" in rows.bad[0].reason
    assert rows.tasks == []


def test_the_cutouts_of_a_file_are_limited_as_a_whole(index):
    with pytest.raises(UsageError, match="more than 6 cutouts"):
        parse(index, f"ra,dec,radius\n{ON_FIELD}\n{ON_FIELD}\n", max_cutouts=6)


def test_rows_read_again_get_the_images_found_when_the_job_was_made(index):
    data = f"ra,dec,radius\n{ON_FIELD}\nid,circle\n"
    recorder = FoundRecorder(covering(index))
    first = parse(index, f"ra,dec,radius\n{ON_FIELD}\n{ON_FIELD}\n", find=recorder)
    kept = recorder.to_bytes()
    # the index changes afterwards: an image is deleted
    gone = survey()["g"]
    index.remove(gone.source, gone.stamp.__class__(gone.stamp.generation + 1))
    assert gone.image_id not in {t.source_id for t in parse(index, data).tasks}
    again = parse(index, f"ra,dec,radius\n{ON_FIELD}\n{ON_FIELD}\n", find=FoundReplay(kept))
    assert again.tasks == first.tasks  # same numbering, same images, same facts
    with pytest.raises(UsageError, match=r"line 9 .* not kept"):
        FoundReplay(kept)(9, None, None)  # type: ignore[arg-type]
    assert parse(index, f"ra,dec,radius\n{ON_FIELD}\n", find=FoundReplay(None)).bad[0].reason


def test_an_async_request_naming_a_collection_is_cut_from_its_covering_images(index):
    images = survey()
    collection = images["g"].metadata.obs_collection

    def request(**params):
        pairs = [(k, v) for k, vs in params.items() for v in ([vs] if isinstance(vs, str) else vs)]
        return parse_soda_request(group_params(pairs), allowed_buckets=[BUCKET])

    found = covered_works(
        request(COLLECTION=collection, CIRCLE=ON_FIELD.replace(",", " "), TIME="60000 60011"),
        covering(index),
    )
    assert [image.image_id for _, image in found] == [
        images["g"].image_id,
        images["nofilter"].image_id,
        images["r"].image_id,
    ]
    assert {work.describe() for work, _ in found} == {
        "CIRCLE=150.001 2.001 0.0005; TIME=60000.0 60011.0"
    }
    with pytest.raises(UsageError, match="not both"):
        request(ID=images["g"].image_id, COLLECTION=collection, CIRCLE="150 2 0.1")
    with pytest.raises(UsageError, match="needs a position"):
        request(COLLECTION=collection, BAND="5e-7 6e-7")
    with pytest.raises(UsageError, match=r"ID is required.*COLLECTION"):
        request(CIRCLE="150 2 0.1")
    with pytest.raises(UsageError, match="use async"):
        request(COLLECTION=collection, CIRCLE="150 2 0.1").single()
    with pytest.raises(UsageError, match=r"no indexed image of collection .* covers CIRCLE 10"):
        covered_works(request(COLLECTION=collection, CIRCLE="10 -60 0.001"), covering(index))
    with pytest.raises(UsageError, match="more than 2 images"):
        covered_works(request(COLLECTION=collection, CIRCLE="150 2 0.01"), covering(index, 2))
