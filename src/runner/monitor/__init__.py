"""`mlops monitor`: drift and performance of current data against a version's reference.

`check` fetches the reference and reads the data (`current`), `drift` tests each
column with `stats`, `performance` applies the gates' rules to labelled data,
`result` holds the verdict, and `report` and `html` render it.
"""
