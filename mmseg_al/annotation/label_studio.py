"""A pending round as a Label Studio project, and its export read back.

Export (:func:`export_project`) writes, for the round's images:

* ``config.xml``: an ``<Image>`` with ``<KeyPointLabels>`` holding the
  dataset's classes in the dataset's colours, plus ``void`` (can't tell)
  and ``?`` (not answered yet);
* ``tasks.json``: one task per image whose ``predictions`` place a ``?``
  keypoint on every queried pixel (at the pixel centre, in Label Studio's
  percent coordinates ``x = (col + 0.5) / W * 100``); ``data`` keeps the
  image id and round so that the export can be matched back;
* ``images/``: the images as the model sees them (PNG);
* ``README.txt``: how to serve the images to Label Studio.

Import (:func:`read_export`) takes Label Studio's JSON export ("JSON"
format: the tasks with their ``annotations``) and returns the class of
every query. Each keypoint is matched to the queried pixel of its task
within half a pixel on both axes. Among several annotations of a task
(several annotators), cancelled ones are skipped and the latest wins:
the largest ``updated_at``, then ``created_at``, then annotation ``id``;
``require_agreement`` instead makes any disagreement an error. Every
problem (missing answer, extra point, unknown label, point on a pixel that
was not queried, ...) is reported with its task id, and nothing is
returned while there is one.
"""
import json
import os
from typing import Any, Dict, List, Sequence, Tuple
from xml.sax.saxutils import quoteattr

from mmseg_al.engine.query_overlays import overlay_file_name
from mmseg_al.state import (AnnotationFileError, atomic_write_bytes,
                            atomic_write_json, atomic_write_text)
from mmseg_al.state.problems import list_problems
from .round_answers import RoundAnswers
from .web_app import class_table, image_png

FROM_NAME = 'label'
TO_NAME = 'image'
VOID_LABEL = 'void'
TODO_LABEL = '?'
TODO_COLOUR = '#ffd400'
VOID_COLOUR = '#000000'
#: Label Studio's local-files URL; d= is relative to its document root.
LOCAL_FILES_PREFIX = '/data/local-files/?d=images/'
#: Keypoint marker size, in percent of the image width.
POINT_WIDTH = 0.5
#: Problems listed in one error message; the rest are counted.
MAX_REPORTED_PROBLEMS = 20

_README = """\
Label Studio project for round {round} ({num_queries} pixels in {num_images} \
images).

1. Serve the images. Either let Label Studio serve this directory:
     LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true \\
     LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={out_dir} label-studio
   and add Settings > Cloud Storage > Local Files with the absolute path
   {out_dir}/images (the tasks use the URL prefix {prefix}),
   or serve them over HTTP (e.g. cd {out_dir}/images && python -m
   http.server 8081) and export again with
   --url-prefix http://HOST:8081/ .
2. Create a project, paste config.xml under Settings > Labeling Interface
   and import tasks.json.
3. In every task, give each yellow "?" point its class (or "void" when it
   cannot be told). Keep the points where they are: a point counts for the
   queried pixel within half a pixel.
4. Export the project as "JSON" and read it back:
     python tools/label_studio.py import WORK_DIR EXPORT.json
"""


def labeling_config(classes: Sequence[dict]) -> str:
    """The labelling interface: keypoint labels in the dataset's colours."""
    names = [c['name'] for c in classes]
    reserved = [n for n in names if n in (VOID_LABEL, TODO_LABEL)]
    if reserved or len(set(names)) != len(names):
        raise ValueError(f'class names must be unique and not {VOID_LABEL!r}'
                         f' or {TODO_LABEL!r} for Label Studio, got {names}')
    labels = [(c['name'], c['color']) for c in classes] + [
        (VOID_LABEL, VOID_COLOUR), (TODO_LABEL, TODO_COLOUR)]
    lines = ['<View>',
             f'  <Image name="{TO_NAME}" value="$image" zoom="true" '
             'zoomControl="true"/>',
             f'  <KeyPointLabels name="{FROM_NAME}" toName="{TO_NAME}" '
             'snap="pixel" strokeWidth="1">']
    lines += [f'    <Label value={quoteattr(name)} background="{colour}"/>'
              for name, colour in labels]
    lines += ['  </KeyPointLabels>', '</View>', '']
    return '\n'.join(lines)


def _label_names(answers: RoundAnswers) -> Dict[int, str]:
    queries = answers.queries
    names = {c['id']: c['name'] for c in
             class_table(queries.dataset.metainfo, queries.num_classes)}
    names[queries.ignore_index] = VOID_LABEL
    return names


def _keypoint(query: dict, label: str) -> dict:
    """A keypoint result at the centre of the query's pixel."""
    return dict(
        id=f'q{query["id"]}', from_name=FROM_NAME, to_name=TO_NAME,
        type='keypointlabels', original_width=query['width'],
        original_height=query['height'], image_rotation=0,
        value=dict(x=(query['x'] + 0.5) / query['width'] * 100,
                   y=(query['y'] + 0.5) / query['height'] * 100,
                   width=POINT_WIDTH, keypointlabels=[label]))


def export_project(answers: RoundAnswers, out_dir: str,
                   url_prefix: str = LOCAL_FILES_PREFIX) -> List[str]:
    """Write the Label Studio project of ``answers``' round.

    Args:
        answers: the pending round.
        out_dir: directory for ``config.xml``, ``tasks.json``, ``images/``
            and ``README.txt``.
        url_prefix: prepended to each image's file name in the tasks.

    Returns:
        The files written (images excluded).
    """
    queries = answers.queries
    classes = class_table(queries.dataset.metainfo, queries.num_classes)
    names = _label_names(answers)
    per_image: Dict[str, List[dict]] = {}
    for query in answers.queries_view():
        per_image.setdefault(query['image'], []).append(query)
    tasks = []
    for image_id, image_queries in per_image.items():
        file_name = overlay_file_name(image_id)
        path = os.path.join(out_dir, 'images', file_name)
        atomic_write_bytes(path, image_png(queries.dataset, image_id))
        result = [_keypoint(q, names.get(q['class'], TODO_LABEL))
                  for q in image_queries]
        tasks.append(dict(
            data=dict(image=url_prefix + file_name, image_id=image_id,
                      round=answers.round_idx),
            predictions=[dict(model_version=f'mmseg-al round '
                              f'{answers.round_idx} queries',
                              result=result)]))
    written = [os.path.join(out_dir, name) for name in
               ('config.xml', 'tasks.json', 'README.txt')]
    atomic_write_text(written[0], labeling_config(classes))
    atomic_write_json(written[1], tasks)
    atomic_write_text(written[2], _README.format(
        round=answers.round_idx, num_queries=len(answers),
        num_images=len(tasks), out_dir=os.path.abspath(out_dir),
        prefix=url_prefix))
    return written


def _latest_first(annotation: dict) -> Tuple[str, str, int]:
    """Sort key: ISO timestamps compare as text; ids are integers."""
    annotation_id = annotation.get('id')
    return (str(annotation.get('updated_at') or ''),
            str(annotation.get('created_at') or ''),
            annotation_id if isinstance(annotation_id, int) else -1)


class _TaskReader:
    """Turns one exported task into ``{query id: class}``."""

    def __init__(self, answers: RoundAnswers) -> None:
        self.round_idx = answers.round_idx
        self.classes = {name: cls
                        for cls, name in _label_names(answers).items()}
        self.queries: Dict[str, List[dict]] = {}
        for query in answers.queries_view():
            self.queries.setdefault(query['image'], []).append(query)

    def image_of(self, task: Any) -> str:
        data = task.get('data') if isinstance(task, dict) else None
        if not isinstance(data, dict) or not isinstance(
                data.get('image_id'), str):
            raise ValueError('not a task of tools/label_studio.py export '
                             '(its data has no image_id)')
        if data['image_id'] not in self.queries:
            raise ValueError(f'image {data["image_id"]!r} is not queried in '
                             f'round {self.round_idx}')
        return data['image_id']

    def check_round(self, task: dict) -> None:
        if task['data'].get('round') != self.round_idx:
            raise ValueError(f'a task of round {task["data"].get("round")!r};'
                             f' round {self.round_idx} is being annotated')

    def read(self, image_id: str, annotation: dict) -> Dict[int, int]:
        """The class of each query of ``image_id`` in ``annotation``."""
        queries = self.queries[image_id]
        located, found = set(), {}
        problems = []
        for item in annotation.get('result') or []:
            try:
                query_id = self._locate(image_id, queries, item)
                if query_id in located:
                    raise ValueError(f'an extra point on the queried pixel '
                                     f'of query {query_id}')
                located.add(query_id)
                found[query_id] = self._label(query_id, item['value'])
            except ValueError as exc:
                problems.append(str(exc))
        problems += [f'no point on the queried pixel (x={q["x"]}, '
                     f'y={q["y"]})' for q in queries if q['id'] not in located]
        if problems:
            raise ValueError('; '.join(problems))
        return found

    @staticmethod
    def _locate(image_id: str, queries: List[dict], item: Any) -> int:
        """The query whose pixel the point ``item`` is on."""
        if not isinstance(item, dict) or item.get('type') != \
                'keypointlabels' or not isinstance(item.get('value'), dict):
            kind = item.get('type') if isinstance(item, dict) else item
            raise ValueError(f'a {kind!r} result; only keypointlabels '
                             'points are expected')
        width, height = queries[0]['width'], queries[0]['height']
        size = (item.get('original_width', width),
                item.get('original_height', height))
        if size != (width, height):
            raise ValueError(f'a point on a {size[0]}x{size[1]} image; '
                             f'{image_id!r} is {width}x{height}')
        px = float(item['value']['x']) / 100 * width
        py = float(item['value']['y']) / 100 * height
        near = [(abs(px - q['x'] - 0.5) + abs(py - q['y'] - 0.5), q['id'])
                for q in queries
                if abs(px - q['x'] - 0.5) <= 0.5 + 1e-6
                and abs(py - q['y'] - 0.5) <= 0.5 + 1e-6]
        if not near:
            raise ValueError(f'a point at pixel (x={px:.1f}, y={py:.1f}) '
                             'that was not queried')
        return min(near)[1]

    def _label(self, query_id: int, value: dict) -> int:
        labels = value.get('keypointlabels') or []
        if labels == [TODO_LABEL]:
            raise ValueError(f'the point of query {query_id} is still '
                             f'labelled {TODO_LABEL!r}')
        if len(labels) != 1 or labels[0] not in self.classes:
            known = ', '.join(map(repr, self.classes))
            raise ValueError(f'label(s) {labels} of query {query_id}: give '
                             f'each point one of {known}')
        return self.classes[labels[0]]


def read_export(path: str, answers: RoundAnswers,
                require_agreement: bool = False) -> Dict[int, int]:
    """``{query id: class}`` of every query, from a Label Studio export.

    Args:
        path: the project exported as Label Studio JSON.
        answers: the pending round the project was exported from.
        require_agreement: with several annotations of a task, refuse any
            pixel they label differently (default: the latest wins).

    Raises:
        AnnotationFileError: listing every bad task; nothing is returned.
    """
    try:
        with open(path, encoding='utf-8') as file:
            tasks = json.load(file)
    except (OSError, json.JSONDecodeError) as exc:
        raise AnnotationFileError(f'{path}: cannot read the Label Studio '
                                  f'export ({exc})') from None
    if not isinstance(tasks, list):
        raise AnnotationFileError(f'{path}: expected Label Studio\'s JSON '
                                  'export, a list of tasks')
    reader = _TaskReader(answers)
    classes: Dict[int, int] = {}
    seen: Dict[str, Any] = {}
    problems = []
    for number, task in enumerate(tasks, start=1):
        task_id = task.get('id', f'#{number}') if isinstance(
            task, dict) else f'#{number}'
        try:
            classes.update(_read_task(reader, task, seen, task_id,
                                      require_agreement))
        except ValueError as exc:
            problems.append(f'task {task_id}: {exc}')
    problems += [f'no task for image {image_id!r}' for image_id in
                 reader.queries if image_id not in seen]
    if problems:
        raise AnnotationFileError(list_problems(
            f'{path}: {len(problems)} problem(s), nothing imported:',
            problems, MAX_REPORTED_PROBLEMS))
    return classes


def _read_task(reader: _TaskReader, task: Any, seen: Dict[str, Any],
               task_id: Any, require_agreement: bool) -> Dict[int, int]:
    image_id = reader.image_of(task)
    if image_id in seen:
        raise ValueError(f'image {image_id!r} is also task {seen[image_id]}')
    seen[image_id] = task_id
    reader.check_round(task)
    annotations = [a for a in task.get('annotations') or []
                   if isinstance(a, dict) and not a.get('was_cancelled')]
    if not annotations:
        raise ValueError(f'image {image_id!r} has no submitted annotation')
    annotations.sort(key=_latest_first, reverse=True)
    readings = [reader.read(image_id, a) for a in
                (annotations if require_agreement else annotations[:1])]
    disputed = sorted(q for q in readings[0]
                      if len({r[q] for r in readings}) > 1)
    if disputed:
        raise ValueError(f'the {len(readings)} annotations of image '
                         f'{image_id!r} disagree on queries {disputed}')
    return readings[0]


def import_answers(path: str, answers: RoundAnswers,
                   require_agreement: bool = False) -> int:
    """Store the classes of a Label Studio export as the round's answers
    (all or none); returns the number stored."""
    classes = read_export(path, answers, require_agreement)
    answers.answer_many(classes)
    return len(classes)
