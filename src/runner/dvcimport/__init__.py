"""`mlops import`: an existing DVC project's `dvc.yaml` as `pipelines/*.yaml`.

`translate` turns one `dvc.yaml` (and the `params.yaml` beside it) into a
pipeline file, noting every key it could not carry; `lock` carries `dvc.lock`
over to the compiled layout, so stages that were up to date stay so; `project`
plans the files to write and the originals to set aside, and refuses to
overwrite anything without `force`.
"""
