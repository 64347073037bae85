/* `Memo`: the policy engine's memos (`keys.Memo`), a hash table of (hash, key, value) entries
 * in one array, open addressing as CPython's dicts do.
 *
 * Why not a dict: the memos used to be dicts from the hash of a key to an object holding key
 * and value (so that the collector never tracked them), and a lookup read the dict, its table,
 * the int stored as key, the holder and the key: five objects seldom in the CPU's caches on the
 * path of every decision. Here a lookup reads the table's entry and the stored key (whose parts
 * are the snapshot's one copy of each: `CatalogSnapshot.key_parts`). The collector does not
 * track a Memo (keys are plain values, values untracked structs: no cycles go through it).
 * Entries are never removed one by one: `keep` starts afresh once `limit` entries are kept.
 */
#define PY_SSIZE_T_CLEAN
#include "_memo.h"

typedef struct {
    Py_hash_t hash;
    PyObject *key; /* NULL: an empty slot */
    PyObject *value;
} Entry;

typedef struct {
    PyObject_HEAD
    Py_ssize_t used;
    Py_ssize_t mask; /* slots - 1; -1 with no table */
    Entry *table;
} MemoObject;

static void
memo_clear_table(MemoObject *self)
{
    Entry *table = self->table;
    Py_ssize_t slots = self->mask + 1;
    self->table = NULL;
    self->mask = -1;
    self->used = 0;
    for (Py_ssize_t i = 0; i < slots; i++) {
        Py_XDECREF(table[i].key);
        Py_XDECREF(table[i].value);
    }
    PyMem_Free(table);
}

/* the slot of `key` (found, or the empty one it would take), -1 with an error set; the
 * table can change while keys are compared (an `__eq__` in Python): the search starts again */
static Py_ssize_t
memo_slot(MemoObject *self, PyObject *key, Py_hash_t hash, int *found)
{
restart:
    *found = 0;
    Entry *table = self->table;
    Py_ssize_t mask = self->mask;
    size_t perturb = (size_t)hash;
    Py_ssize_t i = (Py_ssize_t)((size_t)hash & (size_t)mask);
    for (;;) {
        Entry *entry = &table[i];
        if (entry->key == NULL) {
            return i;
        }
        if (entry->key == key) {
            *found = 1;
            return i;
        }
        if (entry->hash == hash) {
            PyObject *stored = entry->key;
            Py_INCREF(stored);
            int same = PyObject_RichCompareBool(stored, key, Py_EQ);
            Py_DECREF(stored);
            if (same < 0) {
                return -1;
            }
            if (self->table != table || self->mask != mask || entry->key != stored) {
                if (self->table == NULL) {
                    return -2; /* cleared meanwhile */
                }
                goto restart;
            }
            if (same) {
                *found = 1;
                return i;
            }
        }
        perturb >>= 5;
        i = (Py_ssize_t)(((size_t)i * 5 + perturb + 1) & (size_t)mask);
    }
}

PyObject *
memo_find(PyObject *memo, PyObject *key)
{
    MemoObject *self = (MemoObject *)memo;
    if (self->table == NULL) {
        return NULL;
    }
    Py_hash_t hash = PyObject_Hash(key);
    if (hash == -1) {
        return NULL;
    }
    int found;
    Py_ssize_t i = memo_slot(self, key, hash, &found);
    return i >= 0 && found ? self->table[i].value : NULL;
}

static int
memo_resize(MemoObject *self, Py_ssize_t slots)
{
    Entry *table = PyMem_Calloc((size_t)slots, sizeof(Entry));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Entry *old = self->table;
    Py_ssize_t old_slots = self->mask + 1;
    size_t mask = (size_t)slots - 1;
    for (Py_ssize_t j = 0; j < old_slots; j++) {
        if (old[j].key == NULL) {
            continue;
        }
        size_t perturb = (size_t)old[j].hash;
        size_t i = (size_t)old[j].hash & mask;
        while (table[i].key != NULL) {
            perturb >>= 5;
            i = (i * 5 + perturb + 1) & mask;
        }
        table[i] = old[j];
    }
    self->table = table;
    self->mask = (Py_ssize_t)mask;
    PyMem_Free(old);
    return 0;
}

static PyObject *
memo_get(PyObject *self, PyObject *key)
{
    PyObject *value = memo_find(self, key);
    if (value == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    return Py_NewRef(value);
}

/* keep(key, value, limit): keep `value` under `key`, starting afresh once `limit` are kept */
static PyObject *
memo_keep(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    MemoObject *self = (MemoObject *)op;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "keep(key, value, limit)");
        return NULL;
    }
    PyObject *key = args[0], *value = args[1];
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_hash_t hash = PyObject_Hash(key);
    if (hash == -1) {
        return NULL;
    }
    if (self->used >= limit && self->table != NULL) {
        memo_clear_table(self);
    }
    if (self->table == NULL && memo_resize(self, 8) < 0) {
        return NULL;
    }
    int found;
    Py_ssize_t i;
    while ((i = memo_slot(self, key, hash, &found)) == -2) {
        if (memo_resize(self, 8) < 0) {
            return NULL;
        }
    }
    if (i < 0) {
        return NULL;
    }
    Entry *entry = &self->table[i];
    if (found) {
        PyObject *old = entry->value;
        entry->value = Py_NewRef(value);
        Py_DECREF(old);
        Py_RETURN_NONE;
    }
    entry->hash = hash;
    entry->key = Py_NewRef(key);
    entry->value = Py_NewRef(value);
    self->used++;
    if (self->used * 3 >= (self->mask + 1) * 2 && memo_resize(self, (self->mask + 1) * 2) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
memo_clear(PyObject *op, PyObject *unused)
{
    MemoObject *self = (MemoObject *)op;
    if (self->table != NULL) {
        memo_clear_table(self);
    }
    Py_RETURN_NONE;
}

static Py_ssize_t
memo_length(PyObject *op)
{
    return ((MemoObject *)op)->used;
}

static PyObject *
memo_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) || (kwds != NULL && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "Memo() takes no arguments");
        return NULL;
    }
    MemoObject *self = (MemoObject *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->used = 0;
        self->mask = -1;
        self->table = NULL;
    }
    return (PyObject *)self;
}

static void
memo_dealloc(PyObject *op)
{
    MemoObject *self = (MemoObject *)op;
    if (self->table != NULL) {
        memo_clear_table(self);
    }
    Py_TYPE(op)->tp_free(op);
}

static PyMethodDef memo_methods[] = {
    {"get", (PyCFunction)memo_get, METH_O, "get(key): the value kept under key, or None."},
    {"keep", (PyCFunction)(void (*)(void))memo_keep, METH_FASTCALL,
     "keep(key, value, limit): keep value under key, starting afresh once limit entries are kept."},
    {"clear", (PyCFunction)memo_clear, METH_NOARGS, "clear(): forget every entry."},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods memo_as_mapping = {
    .mp_length = memo_length,
};

PyTypeObject MemoType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "registry.policy._remembered.Memo",
    .tp_basicsize = sizeof(MemoObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A memo of the policy engine: values by keys of plain values (keys.Memo).",
    .tp_new = memo_new,
    .tp_dealloc = memo_dealloc,
    .tp_methods = memo_methods,
    .tp_as_mapping = &memo_as_mapping,
};
