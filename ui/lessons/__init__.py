"""Lessons: guided predict-then-reveal paths through the app (issue 15).

- format.py: a lesson file (TOML, data only) read, validated and turned into `Lesson` / `Step`;
  every problem of a bad file is a message naming its line;
- answers.py: the registry of quantities a step's answer and reveal name, computed from the
  live engine on the config the page draws (never written in the file);
- bar.py: the lesson bar app.py draws above every page while a lesson runs.

The shipped lessons are lessons/*.toml (their key is the file's name); lessons/README.md
documents the format.
"""
