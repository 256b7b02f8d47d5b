"""What a student reads when their code behaves like a catalogued mistake.

One module per topic, each with `EXPLANATIONS` (mistake id -> text; variants share their id's
text) and optionally `IN_LAB` ((id, lab) -> text, where a mistake of an earlier lab shows
differently in a later one), and `TITLES` (mistake id -> a short title for the class summary).
Plain, specific and kind: say what the code does and what to write.
"""
