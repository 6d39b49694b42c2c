"""Label Studio JSON exports, written from its documented format."""
import copy
import json


def annotation(task, labels, annotation_id, updated_at, nudge=0.0):
    """A submitted annotation: the exported points, moved by ``nudge``
    pixels to the right and down, labelled ``labels[query id]``."""
    result = []
    for point in task['predictions'][0]['result']:
        point = copy.deepcopy(point)
        query_id = int(point['id'][1:])
        point['value']['x'] += nudge / point['original_width'] * 100
        point['value']['y'] += nudge / point['original_height'] * 100
        point['value']['keypointlabels'] = [labels[query_id]]
        result.append(point)
    return dict(id=annotation_id, completed_by=1, result=result,
                was_cancelled=False, ground_truth=False,
                created_at='2025-01-01T10:00:00.000000Z',
                updated_at=updated_at, lead_time=4.2, task=task['id'])


def ls_export(tasks, labels, nudge=0.0):
    """Label Studio's JSON export of the imported tasks, one annotator
    giving query ``i`` the label ``labels[i]``."""
    out = []
    for number, task in enumerate(copy.deepcopy(tasks)):
        task.update(id=101 + number, project=7, inner_id=number + 1)
        task['annotations'] = [annotation(
            task, labels, 900 + number, '2025-01-01T10:05:00.000000Z',
            nudge)]
        out.append(task)
    return out


def write(tmp_path, export):
    path = tmp_path / 'export.json'
    path.write_text(json.dumps(export))
    return str(path)


def json_min(export):
    """The JSON-MIN export of the same project, as Label Studio's
    converter writes it: one record per submitted annotation with the task
    data at the top level and the points, with their image size, under the
    control's name."""
    records = []
    for task in export:
        for annotation in task['annotations']:
            if annotation['was_cancelled']:
                continue
            points = [dict(point['value'],
                           original_width=point['original_width'],
                           original_height=point['original_height'])
                      for point in annotation['result']]
            records.append(dict(
                task['data'], id=task['id'], label=points,
                annotator=annotation['completed_by'],
                annotation_id=annotation['id'],
                created_at=annotation['created_at'],
                updated_at=annotation['updated_at'],
                lead_time=annotation['lead_time']))
    return records
