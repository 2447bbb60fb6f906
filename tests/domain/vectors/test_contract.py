"""The VectorStore contract, run against every adapter (see conftest.ADAPTERS)."""

from __future__ import annotations

import dataclasses
import uuid

import numpy as np
import pytest

from domain.vectors.identifiers import InvalidIdentifier
from domain.vectors.port import ChunkRecord, VectorStore
from tests.domain.vectors.conftest import DIMENSION

CROWD = 2500  # rows of a big neighbour: far more than any limit asked for


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(DIMENSION, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def angled(cosine: float) -> np.ndarray:
    """A unit vector whose cosine with unit(1) is `cosine`."""
    return unit(cosine, float(np.sqrt(max(0.0, 1.0 - cosine**2))))


def record(
    workspace: uuid.UUID,
    document: uuid.UUID,
    ordinal: int,
    text: str,
    vector: np.ndarray,
    *,
    page: int | None = None,
    heading: str = "",
) -> ChunkRecord:
    return ChunkRecord(
        chunk_id=f"{document}:{ordinal}",
        workspace_id=workspace,
        document_id=document,
        ordinal=ordinal,
        page=page,
        heading=heading,
        text=text,
        vector=vector,
    )


TEXTS = {
    "refund": "Refunds are processed within 14 days of the return.",
    "shipping": "Shipping takes three business days inside the country.",
    "office": "The office is closed on public holidays.",
    "warranty": "The warranty covers manufacturing defects for two years.",
}


async def test_vector_search_orders_by_cosine_similarity(store: VectorStore) -> None:
    # given four chunks at known angles from the query
    workspace, document = uuid.uuid4(), uuid.uuid4()
    cosines = [0.2, 1.0, -1.0, 0.8]
    await store.add(
        [
            record(workspace, document, i, text, angled(c), page=i + 1, heading=f"H{i}")
            for i, (text, c) in enumerate(zip(TEXTS.values(), cosines, strict=True))
        ]
    )

    # when searching with the query vector
    hits = await store.vector_search(workspace, unit(1.0), limit=3)

    # then the nearest come first, scored by cosine similarity, with their fields intact
    assert [hit.ordinal for hit in hits] == [1, 3, 0]
    assert [hit.score for hit in hits] == pytest.approx([1.0, 0.8, 0.2], abs=1e-3)
    best = hits[0]
    assert best.chunk_id == f"{document}:1"
    assert best.document_id == document
    assert (best.page, best.heading, best.text) == (2, "H1", TEXTS["shipping"])
    # and the full list reaches the opposite vector, at similarity -1
    everything = await store.vector_search(workspace, unit(1.0), limit=10)
    assert len(everything) == 4
    assert everything[-1].score == pytest.approx(-1.0, abs=1e-3)


async def test_vector_search_accepts_a_vector_that_is_not_normalised(store: VectorStore) -> None:
    workspace, document = uuid.uuid4(), uuid.uuid4()
    await store.add([record(workspace, document, 0, "a", angled(0.6))])
    [hit] = await store.vector_search(workspace, unit(1.0) * 7.5, limit=1)
    assert hit.score == pytest.approx(0.6, abs=1e-3)


async def test_text_search_finds_exact_words_ranked_by_bm25(store: VectorStore) -> None:
    # given chunks with distinct words (and vectors that say nothing about the text)
    workspace, document = uuid.uuid4(), uuid.uuid4()
    await store.add(
        [record(workspace, document, i, text, unit(1.0)) for i, text in enumerate(TEXTS.values())]
        + [record(workspace, document, 9, "Refund refund: every refund, a refund.", unit(1.0))]
    )

    # when searching for a word only some chunks contain
    hits = await store.text_search(workspace, "refund", limit=10)

    # then exactly those come back, the one repeating the word first, with BM25 scores
    assert [hit.ordinal for hit in hits] == [9, 0]
    assert hits[0].score > hits[1].score > 0
    # and a word of another chunk finds that chunk first (stemmed and case-folded)
    [first, *_] = await store.text_search(workspace, "WARRANTIES defects", limit=10)
    assert first.text == TEXTS["warranty"]
    # and a word nobody wrote finds nothing
    assert await store.text_search(workspace, "zeppelin", limit=10) == []


async def test_text_search_survives_odd_queries(store: VectorStore) -> None:
    workspace, document = uuid.uuid4(), uuid.uuid4()
    await store.add([record(workspace, document, 0, TEXTS["office"], unit(1.0))])
    for query in ["", "   ", "the of and", '" OR 1=1 --', "office:*", "(holidays", "'; DROP"]:
        hits = await store.text_search(workspace, query, limit=5)
        assert all(hit.document_id == document for hit in hits)
    [hit] = await store.text_search(workspace, '"holidays" (office)', limit=5)
    assert hit.ordinal == 0


async def test_new_chunks_are_searchable_as_soon_as_add_returns(store: VectorStore) -> None:
    # given a store already holding (and indexing) chunks
    workspace = uuid.uuid4()
    await store.add([record(workspace, uuid.uuid4(), 0, TEXTS["office"], unit(1.0))])
    assert len(await store.text_search(workspace, "office", limit=5)) == 1

    # when more chunks are appended
    later = uuid.uuid4()
    await store.add([record(workspace, later, 0, "Pelicans migrate in spring.", unit(0.0, 1.0))])

    # then both searches see them at once
    assert [h.document_id for h in await store.text_search(workspace, "pelican", 5)] == [later]
    [nearest, *_] = await store.vector_search(workspace, unit(0.0, 1.0), limit=5)
    assert nearest.document_id == later
    # and after optimize too
    await store.optimize()
    assert [h.document_id for h in await store.text_search(workspace, "pelican", 5)] == [later]


async def test_workspaces_are_isolated_even_with_identical_content(store: VectorStore) -> None:
    # given two workspaces holding the same texts and vectors
    alpha, beta = uuid.uuid4(), uuid.uuid4()
    documents = {alpha: uuid.uuid4(), beta: uuid.uuid4()}
    for workspace, document in documents.items():
        await store.add(
            [record(workspace, document, i, t, angled(0.9)) for i, t in enumerate(TEXTS.values())]
        )

    for workspace, document in documents.items():
        # when each searches
        by_vector = await store.vector_search(workspace, unit(1.0), limit=50)
        by_text = await store.text_search(workspace, "refunds shipping office", limit=50)

        # then each sees only its own rows
        assert {hit.document_id for hit in by_vector} == {document}
        assert len(by_vector) == len(TEXTS)
        assert {hit.document_id for hit in by_text} == {document}
        assert len(by_text) == 3
        assert await store.count(workspace) == len(TEXTS)
        assert await store.document_ids(workspace) == {document}


async def test_a_big_neighbour_never_crowds_out_a_small_workspace(store: VectorStore) -> None:
    # given a small workspace, and a big one whose rows all match better
    small, big = uuid.uuid4(), uuid.uuid4()
    mine = uuid.uuid4()
    await store.add(
        [
            record(small, mine, 0, "A refund for the order.", angled(0.5)),
            record(small, mine, 1, "Refund policy, in short.", angled(0.4)),
            record(small, mine, 2, "Nothing to see here.", angled(0.3)),
        ]
    )
    rng = np.random.default_rng(7)
    theirs = uuid.uuid4()
    near = unit(1.0) + rng.normal(0, 0.01, (CROWD, DIMENSION)).astype(np.float32)
    for start in range(0, CROWD, 500):
        await store.add(
            [
                record(big, theirs, i, "Refund refund refund: refund now.", near[i])
                for i in range(start, min(start + 500, CROWD))
            ]
        )

    # when the small workspace searches with small limits
    by_vector = await store.vector_search(small, unit(1.0), limit=2)
    by_text = await store.text_search(small, "refund", limit=5)

    # then it gets its own best rows, in order, not fewer, and none of the neighbour's
    assert [hit.ordinal for hit in by_vector] == [0, 1]
    assert {hit.ordinal for hit in by_text} == {0, 1}
    assert {hit.document_id for hit in by_vector + by_text} == {mine}
    # and the big workspace still gets full pages of its own
    assert {h.document_id for h in await store.vector_search(big, unit(1.0), limit=20)} == {theirs}
    assert len(await store.text_search(big, "refund", limit=20)) == 20
    assert await store.count(big) == CROWD
    assert await store.count(small) == 3


async def test_adding_the_same_chunk_ids_again_replaces_them(store: VectorStore) -> None:
    # given a document indexed once
    workspace, document = uuid.uuid4(), uuid.uuid4()
    first = [
        record(workspace, document, i, f"version one {i}", unit(1.0), page=7, heading="Old")
        for i in range(3)
    ]
    await store.add(first)

    # when a retried ingestion writes the same chunk ids again, with new content
    second = [record(workspace, document, i, f"version two {i}", unit(0.0, 1.0)) for i in range(3)]
    await store.add(second)
    await store.add(second)

    # then there are still three chunks, holding the latest content
    assert await store.count(workspace) == 3
    assert await store.count(workspace, document) == 3
    assert await store.text_search(workspace, "one", limit=10) == []
    hits = await store.vector_search(workspace, unit(0.0, 1.0), limit=10)
    assert sorted(hit.text for hit in hits) == [f"version two {i}" for i in range(3)]
    assert {(hit.page, hit.heading) for hit in hits} == {(None, "")}
    assert all(hit.score == pytest.approx(1.0, abs=1e-3) for hit in hits)


async def test_a_chunk_id_added_again_under_another_document_moves(store: VectorStore) -> None:
    # given a chunk stored under one document
    workspace, before, after = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await store.add([record(workspace, before, 0, "moved", unit(1.0))])

    # when the same chunk id is added under another document
    moved = record(workspace, before, 0, "moved", unit(1.0))
    await store.add([dataclasses.replace(moved, document_id=after)])

    # then it exists once, under the new document
    assert await store.count(workspace) == 1
    assert await store.document_ids(workspace) == {after}


async def test_a_batch_repeating_an_id_keeps_the_last(store: VectorStore) -> None:
    workspace, document = uuid.uuid4(), uuid.uuid4()
    await store.add(
        [
            record(workspace, document, 0, "old", unit(1.0)),
            record(workspace, document, 0, "new", unit(1.0)),
        ]
    )
    [hit] = await store.vector_search(workspace, unit(1.0), limit=5)
    assert hit.text == "new"


async def test_the_same_chunk_id_in_two_workspaces_is_two_chunks(store: VectorStore) -> None:
    alpha, beta, document = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await store.add([record(alpha, document, 0, "alpha text", unit(1.0))])
    await store.add([record(beta, document, 0, "beta text", unit(1.0))])
    [in_alpha] = await store.vector_search(alpha, unit(1.0), limit=5)
    [in_beta] = await store.vector_search(beta, unit(1.0), limit=5)
    assert (in_alpha.text, in_beta.text) == ("alpha text", "beta text")


async def test_delete_document_removes_every_vector_of_that_document_only(
    store: VectorStore,
) -> None:
    # given two documents in a workspace, and the same document id in another workspace
    workspace, other = uuid.uuid4(), uuid.uuid4()
    doomed, kept = uuid.uuid4(), uuid.uuid4()
    await store.add(
        [record(workspace, doomed, i, f"doomed refund {i}", unit(1.0)) for i in range(5)]
    )
    await store.add([record(workspace, kept, i, f"kept refund {i}", unit(1.0)) for i in range(2)])
    await store.add([record(other, doomed, 0, "elsewhere refund", unit(1.0))])

    # when the document is deleted from the workspace
    await store.delete_document(workspace, doomed)

    # then none of its chunks remain, and everything else does
    assert await store.count(workspace, doomed) == 0
    assert await store.count(workspace, kept) == 2
    assert await store.count(other, doomed) == 1
    hits = await store.vector_search(workspace, unit(1.0), limit=50)
    hits += await store.text_search(workspace, "refund doomed", limit=50)
    assert {hit.document_id for hit in hits} == {kept}
    assert await store.document_ids(workspace) == {kept}
    # and deleting again, or a document that never existed, is harmless
    await store.delete_document(workspace, doomed)
    await store.delete_document(workspace, uuid.uuid4())


async def test_document_ids_lists_documents_per_workspace_and_overall(store: VectorStore) -> None:
    alpha, beta = uuid.uuid4(), uuid.uuid4()
    a1, a2, b1 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await store.add([record(alpha, a1, i, "x", unit(1.0)) for i in range(3)])
    await store.add([record(alpha, a2, 0, "y", unit(1.0)), record(beta, b1, 0, "z", unit(1.0))])

    assert await store.document_ids(alpha) == {a1, a2}
    assert await store.document_ids(beta) == {b1}
    assert await store.document_ids() >= {a1, a2, b1}
    assert await store.document_ids(uuid.uuid4()) == set()


async def test_workspace_ids_lists_workspaces_that_hold_chunks(store: VectorStore) -> None:
    # given chunks in two workspaces, and a third whose only document was deleted
    alpha, beta, emptied = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    gone = uuid.uuid4()
    await store.add([record(alpha, uuid.uuid4(), i, "x", unit(1.0)) for i in range(2)])
    await store.add([record(beta, uuid.uuid4(), 0, "y", unit(1.0))])
    await store.add([record(emptied, gone, 0, "z", unit(1.0))])
    await store.delete_document(emptied, gone)

    # then the workspaces still holding chunks are listed, the emptied one is not
    found = await store.workspace_ids()
    assert {alpha, beta} <= found
    assert emptied not in found


async def test_count_is_per_workspace_and_document(store: VectorStore) -> None:
    workspace, document = uuid.uuid4(), uuid.uuid4()
    assert await store.count(workspace) == 0
    await store.add([record(workspace, document, i, "x", unit(1.0)) for i in range(4)])
    await store.add([record(workspace, uuid.uuid4(), 0, "y", unit(1.0))])
    assert await store.count(workspace) == 5
    assert await store.count(workspace, document) == 4
    assert await store.count(workspace, uuid.uuid4()) == 0


MALICIOUS = [
    "' OR '1'='1",
    "x' OR workspace_id != '",
    "00000000-0000-0000-0000-000000000000' OR 1=1 --",
    "00000000-0000-0000-0000-00000000000'",
    '{"$ne": ""}',
    "",
]


@pytest.mark.parametrize("bad", MALICIOUS)
async def test_a_workspace_id_that_is_not_a_uuid_is_rejected(store: VectorStore, bad: str) -> None:
    # given a store holding someone's chunk
    victim, document = uuid.uuid4(), uuid.uuid4()
    await store.add([record(victim, document, 0, "secret refund", unit(1.0))])
    wrong: uuid.UUID = bad  # type: ignore[assignment]

    # then every method refuses the string before it reaches a filter
    with pytest.raises(InvalidIdentifier):
        await store.vector_search(wrong, unit(1.0), limit=5)
    with pytest.raises(InvalidIdentifier):
        await store.text_search(wrong, "secret", limit=5)
    with pytest.raises(InvalidIdentifier):
        await store.count(wrong)
    with pytest.raises(InvalidIdentifier):
        await store.document_ids(wrong)
    with pytest.raises(InvalidIdentifier):
        await store.delete_document(wrong, document)
    with pytest.raises(InvalidIdentifier):
        await store.delete_document(victim, wrong)
    with pytest.raises(InvalidIdentifier):
        await store.add([record(wrong, document, 1, "planted", unit(1.0))])
    # and nothing was changed
    assert await store.count(victim) == 1


async def test_a_dict_filter_is_not_a_workspace_id(store: VectorStore) -> None:
    with pytest.raises(InvalidIdentifier):
        await store.count({"$ne": "x"})  # type: ignore[arg-type]


async def test_bad_vectors_and_limits_are_refused(store: VectorStore) -> None:
    workspace, document = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(ValueError):
        await store.add([record(workspace, document, 0, "x", np.ones(DIMENSION + 1, np.float32))])
    with pytest.raises(ValueError):
        await store.add([record(workspace, document, 0, "x", np.full(DIMENSION, np.nan))])
    with pytest.raises(ValueError):
        await store.vector_search(workspace, np.ones(DIMENSION - 1), limit=5)
    with pytest.raises(ValueError):
        await store.vector_search(workspace, np.zeros(DIMENSION), limit=5)
    with pytest.raises(ValueError):
        await store.vector_search(workspace, unit(1.0), limit=0)
    assert await store.count(workspace) == 0


async def test_empty_workspace_and_empty_batch(store: VectorStore) -> None:
    workspace = uuid.uuid4()
    await store.add([])
    assert await store.vector_search(workspace, unit(1.0), limit=5) == []
    assert await store.text_search(workspace, "anything", limit=5) == []


async def test_ping_answers(store: VectorStore) -> None:
    assert await store.ping() is True
