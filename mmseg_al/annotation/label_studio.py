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

Import (:func:`read_export`) takes Label Studio's "JSON" export (the
tasks with their ``annotations``) or its "JSON-MIN" export (one record per
annotation, which holds the same points) and returns the class of every
query. Each keypoint is matched to the queried pixel of its task within
half a pixel on both axes. Among several annotations of a task (several
annotators), cancelled ones are skipped and the latest wins: the latest
``updated_at``, then ``created_at`` (compared as times), then the largest
annotation ``id``; ``require_agreement`` instead makes any disagreement an
error. Every problem (missing answer, extra point, unknown label, point on
a pixel that was not queried, a field of the wrong type, ...) is reported
with its task id and the field or pixel at fault, and nothing is returned
while there is one.
"""
import json
import os
import reprlib
from datetime import datetime, timezone
from typing import Any, Dict, List, Sequence, Tuple
from xml.sax.saxutils import quoteattr

from mmseg_al.state import (AnnotationFileError, atomic_write_bytes,
                            atomic_write_json, atomic_write_text)
from mmseg_al.state.annotations import read_json
from mmseg_al.state.problems import list_problems
from .query_overlays import overlay_file_name
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
#: The time of an annotation without one.
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)

_README_HEAD = """\
Label Studio project for round {round} ({num_queries} pixels in {num_images} \
images).
"""
#: How Label Studio gets the images when it serves them itself.
_LOCAL_FILES_STEPS = ("""\
Start Label Studio serving the files of this directory:
     LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true \\
     LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={out_dir} label-studio
   (to serve the images another way, export again with --url-prefix).
""", """\
Create a project and paste config.xml under Settings > Labeling Interface.
""", """\
In the project, add Settings > Cloud Storage > Add Source Storage > Local
   Files with the absolute path {out_dir}/images. Do not press Sync: the
   tasks come from tasks.json, and Sync adds an image-only task per image,
   which the import refuses.
""")
#: How Label Studio gets the images from a server of the user's.
_URL_STEPS = ("""\
Serve the images over HTTP so that {prefix}NAME fetches
   {out_dir}/images/NAME (e.g. cd {out_dir}/images && python -m http.server).
""", """\
Start Label Studio, create a project and paste config.xml under
   Settings > Labeling Interface.
""")
_LABEL_STEPS = ("""\
Import tasks.json into the project.
""", """\
In every task, give each yellow "?" point its class (or "void" when it
   cannot be told). Keep the points where they are: a point counts for the
   queried pixel within half a pixel.
""", """\
Export the project as "JSON" (or "JSON-MIN") and read it back:
     python tools/label_studio.py import WORK_DIR EXPORT.json
""")


#: Said when the run proposes regions (train_cfg.expansion).
_POINTS_ONLY = """
The run proposes a region for each point (region expansion), but this
export carries the points only: the regions are not shown here, and the
import labels the points alone. To label the regions, answer the round in
the web annotator (python tools/annotate.py WORK_DIR) instead.
"""


def _readme(round_idx: int, num_queries: int, num_images: int,
            out_dir: str, url_prefix: str, regions: bool = False) -> str:
    """The steps from the exported files to an imported export (and, with
    proposed regions, that the export carries the points only)."""
    steps = (_LOCAL_FILES_STEPS if url_prefix == LOCAL_FILES_PREFIX
             else _URL_STEPS) + _LABEL_STEPS
    text = _README_HEAD + (_POINTS_ONLY if regions else '') + '\n' + ''.join(
        f'{number}. {step}' for number, step in enumerate(steps, start=1))
    return text.format(round=round_idx, num_queries=num_queries,
                       num_images=num_images, out_dir=out_dir,
                       prefix=url_prefix)


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
             class_table(queries.images.metainfo, queries.num_classes)}
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
    classes = class_table(queries.images.metainfo, queries.num_classes)
    names = _label_names(answers)
    per_image: Dict[str, List[dict]] = {}
    for query in answers.queries_view():
        per_image.setdefault(query['image'], []).append(query)
    tasks = []
    for image_id, image_queries in per_image.items():
        file_name = overlay_file_name(image_id)
        path = os.path.join(out_dir, 'images', file_name)
        atomic_write_bytes(path, image_png(queries.images, image_id))
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
    atomic_write_text(written[2], _readme(
        answers.round_idx, len(answers), len(tasks),
        os.path.abspath(out_dir), url_prefix, queries.regions is not None))
    return written


def _time(annotation: dict, key: str) -> datetime:
    """``annotation[key]`` as a time, the earliest when absent.

    Label Studio leaves out a zero fraction of a second (``10:00:00Z`` but
    ``10:00:00.500000Z``), so its times do not sort as text.
    """
    value = annotation.get(key)
    if value is None:
        return _EARLIEST
    text = value[:-1] + '+00:00' if isinstance(value, str) and \
        value.endswith('Z') else value
    try:
        time = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f'annotation {annotation.get("id")!r}: {key} '
                         f'{value!r} is not an ISO 8601 time') from None
    return time if time.tzinfo else time.replace(tzinfo=timezone.utc)


def _latest_first(annotation: dict) -> Tuple[datetime, datetime, int]:
    """Sort key: times, then the integer annotation id."""
    annotation_id = annotation.get('id')
    return (_time(annotation, 'updated_at'), _time(annotation, 'created_at'),
            annotation_id if isinstance(annotation_id, int) else -1)


def _number(fields: dict, key: str, integer: bool = False) -> float:
    """``fields[key]``: an integer, or else a position in percent of the
    image size, as Label Studio writes them."""
    if key not in fields:
        raise ValueError(f'{key} is missing')
    value = fields[key]
    if isinstance(value, bool) or not isinstance(
            value, int if integer else (int, float)):
        raise ValueError(f'{key} {reprlib.repr(value)} is not '
                         f'{"an integer" if integer else "a number"}')
    if not (integer or 0 <= value <= 100):  # NaN and infinities too
        raise ValueError(f'{key} {reprlib.repr(value)} is off the image (0 '
                         'to 100 percent)')
    return value


def _at(query: dict) -> str:
    return f'(x={query["x"]}, y={query["y"]})'


class _TaskReader:
    """Turns one exported task into ``{query id: class}``."""

    def __init__(self, answers: RoundAnswers) -> None:
        self.round_idx = answers.round_idx
        self.classes = {name: cls
                        for cls, name in _label_names(answers).items()}
        self.queries: Dict[str, List[dict]] = {}
        self.query_of: Dict[int, dict] = {}
        for query in answers.queries_view():
            self.queries.setdefault(query['image'], []).append(query)
            self.query_of[query['id']] = query

    def image_of(self, task: Any) -> str:
        data = task.get('data') if isinstance(task, dict) else None
        if not isinstance(data, dict) or not isinstance(
                data.get('image_id'), str):
            raise ValueError('not a task of tools/label_studio.py export '
                             '(its data has no image_id; delete any task '
                             'that a storage Sync added)')
        if data['image_id'] not in self.queries:
            raise ValueError(f'image {data["image_id"]!r} is not queried in '
                             f'round {self.round_idx}')
        return data['image_id']

    def check_round(self, task: dict) -> None:
        round_idx = _number(task['data'], 'round', integer=True)
        if round_idx != self.round_idx:
            raise ValueError(f'a task of round {round_idx}; round '
                             f'{self.round_idx} is being annotated')

    @staticmethod
    def submitted(task: dict) -> List[dict]:
        """The task's annotations that were not cancelled."""
        annotations = task.get('annotations', [])
        if not isinstance(annotations, list):
            raise ValueError(f'annotations {reprlib.repr(annotations)} is '
                             'not a list')
        for annotation in annotations:
            if not isinstance(annotation, dict):
                raise ValueError(f'annotation {reprlib.repr(annotation)} '
                                 'is not an object')
        return [a for a in annotations if not a.get('was_cancelled')]

    def read(self, image_id: str, annotation: dict) -> Dict[int, int]:
        """The class of each query of ``image_id`` in ``annotation``."""
        results = annotation.get('result', [])
        if not isinstance(results, list):
            raise ValueError(f'annotation {annotation.get("id")!r}: result '
                             f'{reprlib.repr(results)} is not a list')
        queries = self.queries[image_id]
        located, found = set(), {}
        problems = []
        for number, item in enumerate(results, start=1):
            try:
                query = self._locate(image_id, queries, item)
                if query['id'] in located:
                    raise ValueError(f'a second point on the queried pixel '
                                     f'{_at(query)}')
                located.add(query['id'])
                found[query['id']] = self._label(query, item['value'])
            except ValueError as exc:
                problems.append(f'result {number}: {exc}')
        problems += [f'no point on the queried pixel {_at(q)}'
                     for q in queries if q['id'] not in located]
        if problems:
            raise ValueError('; '.join(problems))
        return found

    @staticmethod
    def _locate(image_id: str, queries: List[dict], item: Any) -> dict:
        """The query whose pixel the point ``item`` is on."""
        if not isinstance(item, dict) or item.get('type') != \
                'keypointlabels':
            kind = item.get('type') if isinstance(item, dict) else item
            raise ValueError(f'a {reprlib.repr(kind)} result; only '
                             'keypointlabels points are expected')
        if not isinstance(item.get('value'), dict):
            raise ValueError(f'value {reprlib.repr(item.get("value"))} is '
                             'not an object')
        width, height = queries[0]['width'], queries[0]['height']
        size = tuple(_number(item, key, integer=True) if key in item
                     else default for key, default in
                     (('original_width', width), ('original_height', height)))
        if size != (width, height):
            raise ValueError(f'original_width x original_height is '
                             f'{size[0]}x{size[1]}; {image_id!r} is '
                             f'{width}x{height}')
        px = _number(item['value'], 'x') / 100 * width
        py = _number(item['value'], 'y') / 100 * height
        near = [(abs(px - q['x'] - 0.5) + abs(py - q['y'] - 0.5), q['id'], q)
                for q in queries
                if abs(px - q['x'] - 0.5) <= 0.5 + 1e-6
                and abs(py - q['y'] - 0.5) <= 0.5 + 1e-6]
        if not near:
            raise ValueError(f'a point at pixel (x={px:.1f}, y={py:.1f}) '
                             'that was not queried')
        return min(near)[2]

    def _label(self, query: dict, value: dict) -> int:
        labels = value.get('keypointlabels')
        if labels == [TODO_LABEL]:
            raise ValueError(f'the point on {_at(query)} is still labelled '
                             f'{TODO_LABEL!r}')
        if not (isinstance(labels, list) and len(labels) == 1
                and isinstance(labels[0], str)
                and labels[0] in self.classes):
            known = ', '.join(map(repr, self.classes))
            raise ValueError(f'keypointlabels {labels!r} of the point on '
                             f'{_at(query)}: give each point one of {known}')
        return self.classes[labels[0]]


def _is_json_min(records: List[Any]) -> bool:
    """Whether ``records`` is a JSON-MIN export: the task data (here
    ``image_id``) at the top level instead of under ``data``."""
    return any(isinstance(r, dict) and 'image_id' in r and 'data' not in r
               for r in records)


def _json_result(point: Any) -> Any:
    """A JSON-MIN point as a result of the JSON export."""
    if not isinstance(point, dict):
        return point
    result = dict(type='keypointlabels', value=point)
    result.update({key: point[key] for key in
                   ('original_width', 'original_height') if key in point})
    return result


def _tasks_of_json_min(records: List[Any]) -> List[Any]:
    """A JSON-MIN export as the tasks of a JSON export.

    JSON-MIN holds one record per submitted annotation (cancelled ones are
    left out; a task without any has one record without
    ``annotation_id``): the task's data and id, the annotation's points
    under the control's name (each with its ``original_width/height``),
    and the annotation's id and times. That is all the import reads.
    """
    tasks: List[Any] = []
    by_task: Dict[str, dict] = {}
    for record in records:
        if not isinstance(record, dict):
            tasks.append(record)
            continue
        key = json.dumps([record.get(k) for k in ('id', 'image_id', 'round')])
        if key not in by_task:
            task = dict(data={k: record.get(k) for k in ('image_id', 'round')},
                        annotations=[])
            if 'id' in record:
                task['id'] = record['id']
            by_task[key] = task
            tasks.append(task)
        if record.get('annotation_id') is not None:
            points = record.get(FROM_NAME, [])
            by_task[key]['annotations'].append(dict(
                id=record['annotation_id'],
                created_at=record.get('created_at'),
                updated_at=record.get('updated_at'),
                result=[_json_result(p) for p in points]
                if isinstance(points, list) else points))
    return tasks


def read_export(path: str, answers: RoundAnswers,
                require_agreement: bool = False) -> Dict[int, int]:
    """``{query id: class}`` of every query, from a Label Studio export.

    Args:
        path: the project exported as Label Studio JSON or JSON-MIN.
        answers: the pending round the project was exported from.
        require_agreement: with several annotations of a task, refuse any
            pixel they label differently (default: the latest wins).

    Raises:
        AnnotationFileError: naming the file and listing every bad task
            (its id, and the field or pixel at fault); nothing is returned.
    """
    tasks = read_json(path)
    if not isinstance(tasks, list):
        raise AnnotationFileError(f'{path}: expected Label Studio\'s JSON '
                                  'export, a list of tasks')
    if _is_json_min(tasks):
        tasks = _tasks_of_json_min(tasks)
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
    annotations = reader.submitted(task)
    if not annotations:
        raise ValueError(f'image {image_id!r} has no submitted annotation')
    annotations.sort(key=_latest_first, reverse=True)
    readings = [reader.read(image_id, a) for a in
                (annotations if require_agreement else annotations[:1])]
    disputed = [reader.query_of[q] for q in readings[0]
                if len({r[q] for r in readings}) > 1]
    if disputed:
        raise ValueError(f'the {len(readings)} annotations of image '
                         f'{image_id!r} disagree at '
                         f'{", ".join(map(_at, disputed))}')
    return readings[0]


def import_answers(path: str, answers: RoundAnswers,
                   require_agreement: bool = False) -> int:
    """Store the classes of a Label Studio export as the round's answers
    (all or none); returns the number stored."""
    classes = read_export(path, answers, require_agreement)
    answers.answer_many(classes)
    return len(classes)
