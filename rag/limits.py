"""Limits every layer agrees on: what a question, a request and an answer may be."""

MAX_QUESTION_CHARS = 2000
MAX_K = 50  # citations or passages per request
# An answer longer than this is a passage, not an answer: the answer window cuts to it, and
# evaluation scores a longer one as wrong.
MAX_ANSWER_CHARS = 300
