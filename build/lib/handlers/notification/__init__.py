"""The significant incident notification form: the flow (flow.py), its steps, what it shows,
its draft, the rules its answers obey (answers.py, rules.py) and the email it becomes."""
