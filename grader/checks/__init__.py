"""One module per lab: lab01.py, lab02.py, ..."""
