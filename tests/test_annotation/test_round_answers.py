"""The answers of a pending round: stored one by one in its query file."""
import json
import threading

import numpy as np
import pytest

from mmseg_al.annotation import AnswerError, RoundAnswers
from mmseg_al.annotation import FileOracle
from mmseg_al.annotation.model_guesses import top_guesses
from mmseg_al.state import AnnotationFileError
from .conftest import PAIRS, ROUND, fill_classes


def test_answers_fill_the_query_file_that_file_oracle_reads(pending):
    answers = RoundAnswers(pending)
    assert len(answers) == 4 and answers.num_answered() == 0
    assert answers.classes() is None
    assert [answers.answer(i, c, ROUND) for i, c in
            enumerate([2, 255, 0, 1])] == [1, 2, 3, 4]
    assert answers.answer(3, None, ROUND) == 3  # undo
    assert answers.classes() is None
    assert answers.answer(3, 2, ROUND) == 4
    np.testing.assert_array_equal(answers.classes(), [2, 255, 0, 2])
    assert FileOracle().annotate(pending).tolist() == [2, 255, 0, 2]
    view = answers.queries_view()
    assert [(q['id'], q['image'], q['x'], q['y'], q['class']) for q in
            view] == [(0, 'train/0002.png', 2, 1, 2),
                      (1, 'train/0000.png', 0, 0, 255),
                      (2, 'train/0002.png', 1, 0, 0),
                      (3, 'train/0001.png', 4, 3, 2)]


@pytest.mark.parametrize('query_id,cls,round_idx,status,message', [
    (4, 0, ROUND, 404, 'unknown query id 4: round 2 has the queries 0 .. 3'),
    (-1, 0, ROUND, 404, 'unknown query id -1: round 2 has the queries '
                        '0 .. 3'),
    (0, 3, ROUND, 422, 'class 3 is neither a class id in [0, 3) nor the '
                       'void value 255'),
    (0, 'road', ROUND, 422, "class 'road' is not an integer"),
    (0, True, ROUND, 422, 'class True is not an integer'),
    (0, 1, ROUND - 1, 409, 'the answer is for round 1, but round 2 is being '
                           'annotated; reload the page'),
    (0, 1, True, 400, 'round True is not an integer'),
    (0, 1, float(ROUND), 400, 'round 2.0 is not an integer'),
])
def test_bad_answers_are_refused_and_nothing_is_written(
        pending, query_id, cls, round_idx, status, message):
    answers = RoundAnswers(pending)
    answers.answer(1, 0, ROUND)
    before = open(pending.query_file).read()
    with pytest.raises(AnswerError) as refused:
        answers.answer(query_id, cls, round_idx)
    assert (refused.value.status, str(refused.value)) == (status, message)
    assert open(pending.query_file).read() == before


def test_a_query_file_without_a_queried_row_is_refused(pending):
    rows = json.load(open(pending.query_file))
    json.dump(rows[1:], open(pending.query_file, 'w'))
    with pytest.raises(AnnotationFileError, match=r'1 of 4 queried pixels '
                       r"have no row \(e.g. x=2, y=1 of image "
                       r"'train/0002.png'\)"):
        RoundAnswers(pending)


def test_concurrent_answers_are_neither_lost_nor_repeated(pending):
    """Many threads answering at once: the file ends with every answer
    (each thread rewrites the whole file, so an unlocked read-modify-write
    would drop the answers of the others)."""
    answers = RoundAnswers(pending)
    barrier = threading.Barrier(len(PAIRS))

    def annotator(query_id):
        barrier.wait()
        for cls in (0, 1, 2, query_id % 3):
            answers.answer(query_id, cls, ROUND)

    threads = [threading.Thread(target=annotator, args=(i, ))
               for i in range(len(PAIRS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    np.testing.assert_array_equal(answers.classes(), [0, 1, 2, 0])
    assert len(json.load(open(pending.query_file))) == len(PAIRS)


def test_hand_filled_file_and_answers_agree(tmp_path, pending):
    fill_classes(pending.query_file, [1, 1, 255, 0])
    np.testing.assert_array_equal(RoundAnswers(pending).classes(),
                                  [1, 1, 255, 0])


class LogProbContext:
    """Fixed log-probabilities per image; records the requests."""
    image_ids = ['a', 'b']

    def __init__(self, probs):
        self.probs = probs
        self.requests = []

    def log_probs(self, request):
        self.requests.append({i: p.tolist() for i, p in request.items()})
        return {i: self.probs[i][p].log() for i, p in request.items()}


def test_top_guesses_are_the_three_likeliest_classes():
    import torch
    probs = {0: torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.15, 0.05]]),
             1: torch.tensor([[0.25, 0.5, 0.15, 0.1]])}
    context = LogProbContext(probs)
    guesses = top_guesses(context, ['b', 'a', 'a'], np.array([0, 1, 0]))
    assert context.requests == [{1: [0], 0: [1, 0]}]
    assert [[c for c, _ in g] for g in guesses] == [[1, 0, 2], [0, 2, 1],
                                                    [3, 2, 1]]
    np.testing.assert_allclose([[p for _, p in g] for g in guesses],
                               [[0.5, 0.25, 0.15], [0.7, 0.15, 0.1],
                                [0.4, 0.3, 0.2]], rtol=1e-6)


def test_region_choices_are_saved_with_the_answers(pending):
    answers = RoundAnswers(pending)
    answers.answer(0, 2, ROUND, region='accept')
    answers.answer(1, 1, ROUND, region='pixel')
    answers.answer(2, 0, ROUND)
    answers.answer(3, 1, ROUND, region='accept')
    rows = json.loads(open(pending.query_file, encoding='utf-8').read())
    assert [r.get('region') for r in rows] == ['accept', 'pixel', None,
                                               'accept']
    assert [q['region'] for q in answers.queries_view()] == [
        'accept', 'pixel', None, 'accept']
    np.testing.assert_array_equal(answers.accepted_regions(),
                                  [True, False, False, True])
    assert FileOracle().accepted_regions(pending).tolist() == [
        True, False, False, True]
    answers.answer(3, None, ROUND)  # undo clears the choice too
    assert answers.accepted_regions().tolist() == [True, False, False, False]
    with pytest.raises(AnswerError, match=r"region 'all' is none of "
                       r"\['accept', 'pixel'\]") as refused:
        answers.answer(0, 2, ROUND, region='all')
    assert refused.value.status == 422


def test_a_bad_region_choice_in_the_file_is_named(pending):
    rows = fill_classes(pending.query_file, [2, 1, 0, 1])
    rows[2]['region'] = 'yes'
    with open(pending.query_file, 'w', encoding='utf-8') as file:
        json.dump(rows, file)
    with pytest.raises(AnnotationFileError,
                       match=r"row 3: region 'yes'"):
        RoundAnswers(pending).accepted_regions()
