/* `Memo`: the engine's memos, a hash table of (key, value) in C (`_memo.c`). */
#ifndef CLEARANCE_MEMO_H
#define CLEARANCE_MEMO_H
#include <Python.h>

extern PyTypeObject MemoType;

/* the value kept under `key` (a borrowed reference), NULL when none or on error (set) */
PyObject *memo_find(PyObject *memo, PyObject *key);

#endif
