/* The remembered decision of `registry.policy.evaluate`, in C: what `_evaluate_on` does when
 * the stack, the tenant, the view, the operator's judgement and the decision every tenant with
 * the same facts gets are all remembered (nine requests in ten of a warmed snapshot), and the
 * uuid5 decision id from a runner's SHA-1 state.
 *
 * It reads the engine's msgspec Structs and slotted classes by the offsets of their fields
 * (found once, by `configure`, from the types' member descriptors) and checks the exact type
 * of every object before reading it, so that it never misreads; a part before the decision it
 * does not find remembered, or any object of another type, makes it answer None and the Python
 * path decides, as before. Where it finds no decision it may answer with (none remembered for
 * the facts, or the tenant's agreements could change it), it hands what it looked up to the
 * Python path's `_decided_on`, unless windows were asked for. No memo is filled here (only by
 * `_decided_on`).
 *
 * Why C: the remembered path was half Python bytecode and half waiting for memory (the
 * objects a request reads are chosen at random among millions). mypyc made it slower (it reads
 * msgspec fields through the generic attribute lookup); here each field is one load. The SHA-1
 * state is OpenSSL's own SHA_CTX, copied with memcpy: hashlib's copy and hexdigest go through
 * EVP and cost more than the hashing of a request.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_API_COMPAT 0x10100000L
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <structmember.h>
#include <string.h>
#include <openssl/sha.h>

#include "_arenas.h"
#include "_memo.h"

#define FIELD(obj, off) (*(PyObject **)((char *)(obj) + (off)))
/* start fetching what a field points to (and, for a dict, its table), so that the reads of
 * independent objects overlap instead of waiting one after another */
#define PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
#define PREFETCH_DICT(d) \
    do { \
        PyObject *d_ = (d); \
        PREFETCH(d_); \
        if (PyDict_CheckExact(d_)) { \
            PREFETCH(((PyDictObject *)d_)->ma_keys); \
        } \
    } while (0)

typedef struct {
    PyTypeObject *type;
    const char *name;
    Py_ssize_t *offset;
} FieldSpec;

/* offsets, by type and field */
static Py_ssize_t o_req_tenant, o_req_model, o_req_adapters, o_req_runner, o_req_purpose, o_req_output,
    o_req_cases, o_req_regions, o_req_usage, o_req_strict, o_req_override, o_req_date, o_req_decision_id,
    o_req_max_alternatives;
static Py_ssize_t o_snap_plans, o_snap_seen, o_snap_key_parts;
static Py_ssize_t key_parts_limit;
static Py_ssize_t o_plan_errors, o_plan_license_errors, o_plan_views, o_plan_operator_judged,
    o_plan_operator_parts, o_plan_decisions, o_plan_id_prefix;
static Py_ssize_t o_seen_retired, o_seen_profile, o_seen_registrations, o_seen_agreements;
static Py_ssize_t o_profile_regions, o_profile_country, o_profile_registrations;
static Py_ssize_t o_view_operator_territory, o_view_plain_operator_purpose, o_view_reader, o_view_plain_purpose,
    o_view_plain_output_key;
static Py_ssize_t o_dated_packed;
static Py_ssize_t o_judgement_window, o_judgement_same_as;
static Py_ssize_t o_window_since, o_window_until, o_window_quotas, o_window_quota_ids, o_window_idle_holds;
static Py_ssize_t o_reader_registries, o_reader_territory, o_reader_getter;
static Py_ssize_t o_combined_tenant, o_combined_answer, o_combined_operator, o_combined_open_to;
static Py_ssize_t o_names_families, o_names_artifacts;
static Py_ssize_t o_index_by_artifact, o_index_grants;

static PyTypeObject *t_request, *t_snapshot, *t_plan, *t_seen, *t_profile, *t_view, *t_dated,
    *t_judgement, *t_window, *t_reader, *t_combined, *t_names, *t_index;
static PyObject *verdict_type, *tenant_party, *always, *replace, *encode_request_into,
    *canonical_request, *use_cases_key, *decided_on, *plain;
/* the JSON of the request being answered, written by `encode_request_into` and hashed at once:
 * the GIL is held from one to the other (no Python code runs in between), and reusing one buffer
 * spares growing and shrinking a new bytes object for every decision */
static PyObject *id_body;
static PyObject *verdict_kwnames, *replace_kwnames;
static int configured = 0;

static int
field_offset(PyTypeObject *type, const char *name, Py_ssize_t *offset)
{
    PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
    if (descr == NULL) {
        return -1;
    }
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", type->tp_name, name);
        Py_DECREF(descr);
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX && member->type != T_OBJECT) {
        PyErr_Format(PyExc_TypeError, "%s.%s does not hold an object", type->tp_name, name);
        Py_DECREF(descr);
        return -1;
    }
    *offset = member->offset;
    Py_DECREF(descr);
    return 0;
}

static PyTypeObject *
type_of(PyObject *types, const char *name)
{
    PyObject *found = PyDict_GetItemString(types, name);
    if (found == NULL || !PyType_Check(found)) {
        PyErr_Format(PyExc_TypeError, "configure: %s is not a type", name);
        return NULL;
    }
    Py_INCREF(found);
    return (PyTypeObject *)found;
}

static PyObject *
object_of(PyObject *types, const char *name)
{
    PyObject *found = PyDict_GetItemString(types, name);
    if (found == NULL) {
        PyErr_Format(PyExc_KeyError, "configure: %s is missing", name);
        return NULL;
    }
    Py_INCREF(found);
    return found;
}

/* configure(parts: dict[str, object]): the engine's types and the objects the path uses */
static PyObject *
configure(PyObject *module, PyObject *parts)
{
    if (!PyDict_Check(parts)) {
        PyErr_SetString(PyExc_TypeError, "configure takes a dict");
        return NULL;
    }
    if (configured) {
        Py_RETURN_NONE;
    }
    if (!(t_request = type_of(parts, "PolicyRequest")) || !(t_snapshot = type_of(parts, "CatalogSnapshot")) ||
        !(t_plan = type_of(parts, "StackPlan")) || !(t_seen = type_of(parts, "TenantSeen")) ||
        !(t_profile = type_of(parts, "TenantProfile")) || !(t_view = type_of(parts, "PurposeView")) ||
        !(t_dated = type_of(parts, "Dated")) ||
        !(t_judgement = type_of(parts, "Judgement")) || !(t_window = type_of(parts, "UsabilityWindow")) ||
        !(t_reader = type_of(parts, "FactReader")) || !(t_combined = type_of(parts, "Combined")) ||
        !(t_names = type_of(parts, "AgreementNames")) || !(t_index = type_of(parts, "HolderAgreements")) ||
        !(verdict_type = object_of(parts, "PartyVerdict")) || !(tenant_party = object_of(parts, "TENANT")) ||
        !(always = object_of(parts, "ALWAYS")) || !(replace = object_of(parts, "replace")) ||
        !(canonical_request = object_of(parts, "canonical_request")) ||
        !(use_cases_key = object_of(parts, "use_cases_key")) ||
        !(decided_on = object_of(parts, "decided_on")) || !(plain = object_of(parts, "plain")) ||
        !(encode_request_into = object_of(parts, "encode_request_into")) ||
        !(id_body = PyByteArray_FromStringAndSize(NULL, 0))) {
        return NULL;
    }
    FieldSpec fields[] = {
        {t_request, "tenant_id", &o_req_tenant},
        {t_request, "model_id", &o_req_model},
        {t_request, "adapter_ids", &o_req_adapters},
        {t_request, "runner_id", &o_req_runner},
        {t_request, "max_alternatives", &o_req_max_alternatives},
        {t_request, "purpose", &o_req_purpose},
        {t_request, "output_use", &o_req_output},
        {t_request, "use_cases", &o_req_cases},
        {t_request, "end_user_regions", &o_req_regions},
        {t_request, "usage_this_month", &o_req_usage},
        {t_request, "strict", &o_req_strict},
        {t_request, "profile_override", &o_req_override},
        {t_request, "date", &o_req_date},
        {t_request, "decision_id", &o_req_decision_id},
        {t_snapshot, "stack_plans", &o_snap_plans},
        {t_snapshot, "tenants_seen", &o_snap_seen},
        {t_snapshot, "key_parts", &o_snap_key_parts},
        {t_plan, "errors", &o_plan_errors},
        {t_plan, "license_errors", &o_plan_license_errors},
        {t_plan, "views", &o_plan_views},
        {t_plan, "operator_judged", &o_plan_operator_judged},
        {t_plan, "operator_parts", &o_plan_operator_parts},
        {t_plan, "decisions", &o_plan_decisions},
        {t_plan, "id_prefix", &o_plan_id_prefix},
        {t_seen, "retired", &o_seen_retired},
        {t_seen, "profile", &o_seen_profile},
        {t_seen, "registrations", &o_seen_registrations},
        {t_seen, "agreements", &o_seen_agreements},
        {t_profile, "end_user_regions", &o_profile_regions},
        {t_profile, "country", &o_profile_country},
        {t_profile, "registrations", &o_profile_registrations},
        {t_view, "operator_territory", &o_view_operator_territory},
        {t_view, "plain_operator_purpose", &o_view_plain_operator_purpose},
        {t_view, "reader", &o_view_reader},
        {t_view, "plain_purpose", &o_view_plain_purpose},
        {t_view, "plain_output_key", &o_view_plain_output_key},
        {t_dated, "packed", &o_dated_packed},
        {t_judgement, "window", &o_judgement_window},
        {t_judgement, "same_as", &o_judgement_same_as},
        {t_window, "since", &o_window_since},
        {t_window, "until", &o_window_until},
        {t_window, "quotas", &o_window_quotas},
        {t_window, "quota_ids", &o_window_quota_ids},
        {t_window, "idle_holds", &o_window_idle_holds},
        {t_reader, "registries", &o_reader_registries},
        {t_reader, "territory", &o_reader_territory},
        {t_reader, "getter", &o_reader_getter},
        {t_combined, "tenant", &o_combined_tenant},
        {t_combined, "answer", &o_combined_answer},
        {t_combined, "operator", &o_combined_operator},
        {t_combined, "open_to", &o_combined_open_to},
        {t_names, "families", &o_names_families},
        {t_names, "artifacts", &o_names_artifacts},
        {t_index, "by_artifact", &o_index_by_artifact},
        {t_index, "grants", &o_index_grants},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (field_offset(fields[i].type, fields[i].name, fields[i].offset) < 0) {
            return NULL;
        }
    }
    PyObject *limit = PyDict_GetItemString(parts, "KEY_PARTS_LIMIT");
    if (limit == NULL || (key_parts_limit = PyLong_AsSsize_t(limit)) < 0) {
        PyErr_SetString(PyExc_TypeError, "configure: KEY_PARTS_LIMIT is missing");
        return NULL;
    }
    verdict_kwnames = Py_BuildValue("(ssss)", "party", "holder", "purpose", "decision");
    replace_kwnames = Py_BuildValue("(ss)", "decision_id", "parties");
    if (verdict_kwnames == NULL || replace_kwnames == NULL) {
        return NULL;
    }
    configured = 1;
    Py_RETURN_NONE;
}

/* ---- decision ids: uuid5 (RFC 9562) over the SHA-1 state of a runner's prefix ---- */

static PyObject *
sha1_state(PyObject *module, PyObject *data)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    SHA_CTX ctx;
    SHA1_Init(&ctx);
    SHA1_Update(&ctx, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyBytes_FromStringAndSize((const char *)&ctx, sizeof(ctx));
}

static const char HEX[] = "0123456789abcdef";

/* the uuid5 text of the SHA-1 of the state's prefix followed by `body`; NULL on error */
static PyObject *
uuid5_after_state(PyObject *state, PyObject *body)
{
    if (!PyBytes_CheckExact(state) || PyBytes_GET_SIZE(state) != (Py_ssize_t)sizeof(SHA_CTX)) {
        PyErr_SetString(PyExc_TypeError, "not a SHA-1 state of sha1_state");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(body, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    SHA_CTX ctx;
    unsigned char digest[SHA_DIGEST_LENGTH];
    memcpy(&ctx, PyBytes_AS_STRING(state), sizeof(ctx));
    SHA1_Update(&ctx, view.buf, (size_t)view.len);
    SHA1_Final(digest, &ctx);
    PyBuffer_Release(&view);
    digest[6] = (unsigned char)((digest[6] & 0x0f) | 0x50); /* version 5 */
    digest[8] = (unsigned char)((digest[8] & 0x3f) | 0x80); /* variant 10 */
    PyObject *text = PyUnicode_New(36, 127);
    if (text == NULL) {
        return NULL;
    }
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
    for (int i = 0, j = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[j++] = '-';
        }
        out[j++] = (Py_UCS1)HEX[digest[i] >> 4];
        out[j++] = (Py_UCS1)HEX[digest[i] & 0x0f];
    }
    return text;
}

static PyObject *
uuid5_after(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "uuid5_after(state, body)");
        return NULL;
    }
    return uuid5_after_state(args[0], args[1]);
}

/* ---- the remembered decision ---- */

/* the value kept in `memo` (a `Memo`, `_memo.c`) under `key`: a new reference, NULL with no
 * error when none, NULL with an error on failure */
static PyObject *
recall_kept(PyObject *memo, PyObject *key)
{
    if (!Py_IS_TYPE(memo, &MemoType)) {
        return NULL;
    }
    PyObject *value = memo_find(memo, key);
    Py_XINCREF(value);
    return value;
}

/* 1 when `date` lies in `window` and the usage keeps each quota on the side it was judged on
 * (`UsabilityWindow.holds`), 0 when not, -1 on error */
static int
window_holds(PyObject *window, PyObject *date, PyObject *usage)
{
    PyObject *since = FIELD(window, o_window_since), *until = FIELD(window, o_window_until);
    int cmp;
    if (since != Py_None) {
        if ((cmp = PyObject_RichCompareBool(date, since, Py_LT)) != 0) {
            return cmp < 0 ? -1 : 0;
        }
    }
    if (until != Py_None) {
        if ((cmp = PyObject_RichCompareBool(date, until, Py_GE)) != 0) {
            return cmp < 0 ? -1 : 0;
        }
    }
    PyObject *quota_ids = FIELD(window, o_window_quota_ids);
    if (PyDict_GET_SIZE(usage)) {
        if (!PyDict_CheckExact(quota_ids)) {
            return 0;
        }
        Py_ssize_t pos = 0;
        PyObject *counted, *used;
        while (PyDict_Next(usage, &pos, &counted, &used)) {
            int in = PyDict_Contains(quota_ids, counted);
            if (in < 0) {
                return -1;
            }
            if (in) { /* usage counts on a quota the judgement checked: each on its side */
                PyObject *quotas = FIELD(window, o_window_quotas);
                if (!PyTuple_CheckExact(quotas)) {
                    return 0;
                }
                for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(quotas); i++) {
                    PyObject *quota = PyTuple_GET_ITEM(quotas, i);
                    if (!PyTuple_CheckExact(quota) || PyTuple_GET_SIZE(quota) != 3) {
                        return 0;
                    }
                    PyObject *spent = PyDict_GetItemWithError(usage, PyTuple_GET_ITEM(quota, 0));
                    if (spent == NULL && PyErr_Occurred()) {
                        return -1;
                    }
                    PyObject *zero = NULL;
                    if (spent == NULL) {
                        spent = zero = PyLong_FromLong(0);
                        if (zero == NULL) {
                            return -1;
                        }
                    }
                    int over = PyObject_RichCompareBool(spent, PyTuple_GET_ITEM(quota, 1), Py_GE);
                    Py_XDECREF(zero);
                    if (over < 0) {
                        return -1;
                    }
                    if ((over ? Py_True : Py_False) != PyTuple_GET_ITEM(quota, 2)) {
                        return 0;
                    }
                }
                return 1;
            }
        }
    }
    return FIELD(window, o_window_idle_holds) == Py_True;
}

/* a date as `judgement_memo.day_number` makes it */
static int32_t
day_number(PyObject *date)
{
    return (int32_t)(PyDateTime_GET_YEAR(date) << 9 | PyDateTime_GET_MONTH(date) << 5 | PyDateTime_GET_DAY(date));
}

enum { WINDOW_SIZE = 12, IDLE_HOLDS = 1, HAS_QUOTAS = 2 }; /* `judgement_memo.WINDOW_LAYOUT` */

/* the operator's remembered judgement under `key` that holds on `date` with `usage`: 1 with
 * `*said` (what it says: `Judgement.same_as`, or itself) and `*part` (the judgement), new
 * references; 0 when none holds; -1 on error */
static int
operator_part(PyObject *plan, PyObject *key, PyObject *date, PyObject *usage, PyObject **said, PyObject **part)
{
    PyObject *value = recall_kept(FIELD(plan, o_plan_operator_parts), key);
    if (value == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (Py_IS_TYPE(value, t_judgement)) { /* one judgement for every date */
        PyObject *window = FIELD(value, o_judgement_window);
        int holds = window == always ? 1 : Py_IS_TYPE(window, t_window) ? window_holds(window, date, usage) : 0;
        if (holds != 1) {
            Py_DECREF(value);
            return holds;
        }
        PyObject *same_as = FIELD(value, o_judgement_same_as);
        *said = Py_NewRef(same_as == Py_None ? value : same_as);
        *part = value;
        return 1;
    }
    /* by bisection on the first days of its windows (`Dated.packed`: one consistent tuple) */
    PyObject *packed = Py_IS_TYPE(value, t_dated) ? FIELD(value, o_dated_packed) : NULL;
    int found = 0;
    if (packed != NULL && PyTuple_CheckExact(packed) && PyTuple_GET_SIZE(packed) == 3 && PyDate_Check(date)) {
        PyObject *bounds = PyTuple_GET_ITEM(packed, 0), *saids = PyTuple_GET_ITEM(packed, 1),
                 *judgements = PyTuple_GET_ITEM(packed, 2);
        Py_ssize_t n = PyBytes_CheckExact(bounds) ? PyBytes_GET_SIZE(bounds) / WINDOW_SIZE : 0;
        if (PyTuple_CheckExact(saids) && PyTuple_CheckExact(judgements) && PyTuple_GET_SIZE(saids) == n &&
            PyTuple_GET_SIZE(judgements) == n) {
            const char *data = PyBytes_AS_STRING(bounds);
            int32_t day = day_number(date), first, end;
            uint32_t flags;
            Py_ssize_t lo = 0, hi = n;
            while (lo < hi) {
                Py_ssize_t mid = (lo + hi) / 2;
                memcpy(&first, data + mid * WINDOW_SIZE, 4);
                if (day < first) {
                    hi = mid;
                }
                else {
                    lo = mid + 1;
                }
            }
            if (lo > 0) {
                const char *window = data + (lo - 1) * WINDOW_SIZE;
                memcpy(&end, window + 4, 4);
                memcpy(&flags, window + 8, 4);
                PyObject *judgement = PyTuple_GET_ITEM(judgements, lo - 1);
                if (day < end) {
                    if ((flags & HAS_QUOTAS) && PyDict_GET_SIZE(usage)) {
                        PyObject *full = Py_IS_TYPE(judgement, t_judgement) ? FIELD(judgement, o_judgement_window) : NULL;
                        found = full != NULL && Py_IS_TYPE(full, t_window) ? window_holds(full, date, usage) : 0;
                    }
                    else {
                        found = (flags & IDLE_HOLDS) != 0;
                    }
                }
                if (found == 1 && !Py_IS_TYPE(judgement, t_judgement)) {
                    found = 0;
                }
                if (found == 1) {
                    *said = Py_NewRef(PyTuple_GET_ITEM(saids, lo - 1));
                    *part = Py_NewRef(judgement);
                }
            }
        }
    }
    Py_DECREF(value);
    return found;
}

/* the one tuple equal to `part` that the snapshot keeps (`CatalogSnapshot.key_parts`), kept
 * now if none was: a new reference, NULL on error; steals `part` */
static PyObject *
key_part(PyObject *parts, PyObject *part)
{
    if (part == NULL) {
        return NULL;
    }
    if (PyDict_GET_SIZE(parts) >= key_parts_limit) {
        PyDict_Clear(parts);
    }
    PyObject *kept = PyDict_SetDefault(parts, part, part);
    Py_XINCREF(kept);
    Py_DECREF(part);
    return kept;
}

/* 1 when one of `names` is a key of `grants`, 0 when none, -1 on error */
static int
names_any(PyObject *grants, PyObject *names)
{
    if (!PyTuple_CheckExact(names)) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        int in = PyDict_Contains(grants, PyTuple_GET_ITEM(names, i));
        if (in != 0) {
            return in;
        }
    }
    return 0;
}

/* (`registered`, the registries the reader reads that the tenant registered with) as
 * `_evaluate_on` makes it: None when it reads none, else a sorted tuple */
static PyObject *
registered_with(PyObject *registries, PyObject *registrations)
{
    if (PySet_GET_SIZE(registries) == 0) {
        Py_RETURN_NONE;
    }
    static PyObject *intersection = NULL;
    if (intersection == NULL && (intersection = PyUnicode_InternFromString("intersection")) == NULL) {
        return NULL;
    }
    /* not PyObject_CallMethod(..., "O", registrations): it would unpack a tuple of them */
    PyObject *found = PyObject_CallMethodOneArg(registries, intersection, registrations);
    if (found == NULL) {
        return NULL;
    }
    PyObject *listed = PySequence_List(found);
    Py_DECREF(found);
    if (listed == NULL || PyList_Sort(listed) < 0) {
        Py_XDECREF(listed);
        return NULL;
    }
    PyObject *sorted = PyList_AsTuple(listed);
    Py_DECREF(listed);
    return sorted;
}

/* remembered(request, snapshot, runner_id, windows) -> PolicyDecision | None */
static PyObject *
remembered(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "remembered(request, snapshot, runner_id, windows)");
        return NULL;
    }
    PyObject *request = args[0], *snapshot = args[1], *runner_id = args[2], *windows = args[3];
    if (!configured || !Py_IS_TYPE(request, t_request) || !Py_IS_TYPE(snapshot, t_snapshot) ||
        (windows != Py_None && !PyList_CheckExact(windows))) {
        Py_RETURN_NONE;
    }
    PyObject *plans = FIELD(snapshot, o_snap_plans), *seens = FIELD(snapshot, o_snap_seen),
             *key_parts = FIELD(snapshot, o_snap_key_parts);
    PyObject *usage = FIELD(request, o_req_usage), *use_cases = FIELD(request, o_req_cases);
    if (plans == NULL || seens == NULL || key_parts == NULL || !PyDict_CheckExact(plans) ||
        !PyDict_CheckExact(seens) || !PyDict_CheckExact(key_parts) ||
        !PyDict_CheckExact(usage) || !PyAnySet_Check(use_cases)) {
        Py_RETURN_NONE;
    }
    /* new references, released at `done` */
    PyObject *result = NULL, *plan = NULL, *seen = NULL, *view = NULL, *key = NULL, *cases = NULL,
             *around = NULL, *part = NULL, *said = NULL, *facts = NULL, *found = NULL, *decision_id = NULL, *body = NULL,
             *verdict = NULL, *parties = NULL;
    PyObject *tenant_id = FIELD(request, o_req_tenant), *purpose = FIELD(request, o_req_purpose),
             *output_use = FIELD(request, o_req_output), *date = FIELD(request, o_req_date);

    PREFETCH(usage);
    PREFETCH(date);
    PREFETCH(FIELD(request, o_req_override));
    key = PyTuple_Pack(3, FIELD(request, o_req_model), FIELD(request, o_req_adapters), runner_id);
    if (key == NULL) {
        goto done;
    }
    plan = PyDict_GetItemWithError(plans, key);
    Py_CLEAR(key);
    if (plan == NULL || !Py_IS_TYPE(plan, t_plan)) {
        plan = NULL;
        goto done;
    }
    Py_INCREF(plan);
    PREFETCH_DICT(FIELD(plan, o_plan_views));
    PREFETCH(FIELD(plan, o_plan_operator_parts)); /* Memos: the slot depends on the key */
    PREFETCH(FIELD(plan, o_plan_decisions));
    seen = PyDict_GetItemWithError(seens, tenant_id);
    if (seen == NULL || !Py_IS_TYPE(seen, t_seen)) {
        seen = NULL;
        goto done;
    }
    Py_INCREF(seen);
    PyObject *index = FIELD(seen, o_seen_agreements);
    PREFETCH(FIELD(seen, o_seen_profile));
    PREFETCH(index);
    PREFETCH(FIELD(seen, o_seen_registrations));
    PyObject *plan_errors = FIELD(plan, o_plan_errors), *license_errors = FIELD(plan, o_plan_license_errors);
    if (FIELD(seen, o_seen_retired) != Py_False || !PyTuple_CheckExact(plan_errors) ||
        PyTuple_GET_SIZE(plan_errors) || !PyTuple_CheckExact(license_errors) ||
        PyTuple_GET_SIZE(license_errors)) {
        goto done;
    }
    PyObject *profile = FIELD(request, o_req_override);
    if (profile == Py_None) {
        profile = FIELD(seen, o_seen_profile);
    }
    if (!Py_IS_TYPE(profile, t_profile)) {
        goto done;
    }
    PREFETCH(FIELD(profile, o_profile_regions));
    PREFETCH(FIELD(profile, o_profile_country));
    if (Py_IS_TYPE(index, t_index)) {
        PREFETCH_DICT(FIELD(index, o_index_grants));
    }
    PyObject *regions = FIELD(request, o_req_regions);
    if (regions == Py_None) {
        regions = FIELD(profile, o_profile_regions);
    }
    if (!PyTuple_CheckExact(regions)) {
        goto done;
    }
    if (PySet_GET_SIZE(use_cases)) {
        cases = PyObject_CallOneArg(use_cases_key, use_cases);
        if (cases == NULL) {
            goto done;
        }
    }
    else {
        cases = PyTuple_New(0);
    }
    key = PyTuple_Pack(2, purpose, output_use);
    if (key == NULL) {
        goto done;
    }
    view = PyDict_GetItemWithError(FIELD(plan, o_plan_views), key);
    Py_CLEAR(key);
    if (view == NULL || !Py_IS_TYPE(view, t_view)) {
        view = NULL;
        goto done;
    }
    Py_INCREF(view);
    PREFETCH(FIELD(view, o_view_reader));
    PyObject *country = FIELD(profile, o_profile_country);
    if (FIELD(plan, o_plan_operator_judged) == Py_True) {
        if (FIELD(view, o_view_operator_territory) == Py_True) {
            int with_country = PyObject_IsTrue(country);
            if (with_country < 0) {
                goto done;
            }
            Py_ssize_t n = PyTuple_GET_SIZE(regions);
            around = PyTuple_New(n + with_country);
            if (around == NULL) {
                goto done;
            }
            for (Py_ssize_t i = 0; i < n; i++) {
                PyObject *region = PyTuple_GET_ITEM(regions, i);
                Py_INCREF(region);
                PyTuple_SET_ITEM(around, i, region);
            }
            if (with_country) {
                Py_INCREF(country);
                PyTuple_SET_ITEM(around, n, country);
            }
            if ((around = key_part(key_parts, around)) == NULL) {
                goto done;
            }
        }
        else {
            around = Py_NewRef(Py_None);
        }
        key = PyTuple_Pack(3, FIELD(view, o_view_plain_operator_purpose), cases, around);
        if (key == NULL) {
            goto done;
        }
        int holds = operator_part(plan, key, date, usage, &said, &part);
        Py_CLEAR(key);
        if (holds != 1) {
            goto done;
        }
    }
    PyObject *reader = FIELD(view, o_view_reader);
    if (!Py_IS_TYPE(reader, t_reader)) {
        goto done;
    }
    PyObject *registries = FIELD(reader, o_reader_registries), *getter = FIELD(reader, o_reader_getter);
    if (!PyFrozenSet_CheckExact(registries)) {
        goto done;
    }
    PyObject *registrations = profile == FIELD(seen, o_seen_profile) ? FIELD(seen, o_seen_registrations)
                                                                      : FIELD(profile, o_profile_registrations);
    PyObject *registered = registered_with(registries, registrations);
    if (registered == NULL) {
        goto done;
    }
    PyObject *read = getter == Py_None ? Py_NewRef(Py_None) : PyObject_CallOneArg(getter, profile);
    PyObject *territory =
        FIELD(reader, o_reader_territory) == Py_True ? PyTuple_Pack(2, country, regions) : Py_NewRef(Py_None);
    if (read != NULL && territory != NULL) {
        facts = key_part(key_parts, PyTuple_Pack(3, read, registered, territory));
    }
    Py_DECREF(registered);
    Py_XDECREF(read);
    Py_XDECREF(territory);
    if (facts == NULL) {
        goto done;
    }
    key = PyTuple_Pack(6, said != NULL ? said : Py_None, FIELD(view, o_view_plain_purpose), FIELD(view, o_view_plain_output_key), cases,
                       FIELD(request, o_req_strict), facts);
    if (key == NULL) {
        goto done;
    }
    found = recall_kept(FIELD(plan, o_plan_decisions), key);
    if (found == NULL) {
        if (PyErr_Occurred()) {
            goto done;
        }
        goto hand_over;
    }
    if (!Py_IS_TYPE(found, t_combined)) {
        goto done;
    }
    PyObject *open_to = FIELD(found, o_combined_open_to);
    PREFETCH(FIELD(found, o_combined_answer));
    PREFETCH(FIELD(found, o_combined_operator));
    if (open_to != Py_None) { /* the tenant's agreements could change it: the Python path judges */
        if (!Py_IS_TYPE(open_to, t_names) || !Py_IS_TYPE(index, t_index)) {
            goto done;
        }
        PyObject *grants = FIELD(index, o_index_grants), *by_artifact = FIELD(index, o_index_by_artifact);
        if (!PyDict_CheckExact(grants) || !PyDict_CheckExact(by_artifact)) {
            goto done;
        }
        if (PyDict_GET_SIZE(grants)) {
            int changes = names_any(grants, FIELD(open_to, o_names_families));
            if (changes == 0 && PyDict_GET_SIZE(by_artifact)) {
                changes = names_any(grants, FIELD(open_to, o_names_artifacts));
            }
            if (changes < 0) {
                goto done;
            }
            if (changes) {
                goto hand_over;
            }
        }
    }
    Py_CLEAR(key);
    PyObject *given_id = FIELD(request, o_req_decision_id);
    if (given_id == Py_None) {
        PyObject *given = FIELD(request, o_req_regions);
        if (given != Py_None && !PyTuple_CheckExact(given)) {
            goto done;
        }
        if (given != Py_None && PyTuple_GET_SIZE(given) > 1) { /* regions to sort first */
            body = PyObject_CallOneArg(canonical_request, request);
        }
        else {
            PyObject *into_args[2] = {request, id_body};
            body = PyObject_Vectorcall(encode_request_into, into_args, 2, NULL);
            Py_XSETREF(body, body == NULL ? NULL : Py_NewRef(id_body));
        }
        if (body == NULL) {
            goto done;
        }
        decision_id = uuid5_after_state(FIELD(plan, o_plan_id_prefix), body);
        if (decision_id == NULL) {
            goto done;
        }
    }
    else {
        decision_id = Py_NewRef(given_id);
    }
    PyObject *verdict_args[4] = {tenant_party, tenant_id, purpose, FIELD(found, o_combined_tenant)};
    verdict = PyObject_Vectorcall(verdict_type, verdict_args, 0, verdict_kwnames);
    if (verdict == NULL) {
        goto done;
    }
    PyObject *operator_verdict = FIELD(found, o_combined_operator);
    parties = operator_verdict == Py_None ? PyTuple_Pack(1, verdict) : PyTuple_Pack(2, verdict, operator_verdict);
    if (parties == NULL) {
        goto done;
    }
    PyObject *replace_args[3] = {FIELD(found, o_combined_answer), decision_id, parties};
    result = PyObject_Vectorcall(replace, replace_args, 1, replace_kwnames);
    if (result != NULL && windows != Py_None && part != NULL &&
        PyList_Append(windows, FIELD(part, o_judgement_window)) < 0) {
        Py_CLEAR(result);
    }
    goto done;
hand_over:
    /* No decision to answer with (none remembered, or the tenant's agreements could change it):
     * the Python path takes over from here, with what was looked up on the way
     * (`evaluate._decided_on`). With `windows`, the Python path starts afresh. */
    if (windows == Py_None) {
        PyObject *hand_args[14] = {request, snapshot, plan, seen, view, profile, regions, cases,
                                   part != NULL ? part : Py_None, facts, key,
                                   found != NULL ? found : Py_None, Py_None, Py_True};
        result = PyObject_Vectorcall(decided_on, hand_args, 14, NULL);
    }
done:
    Py_XDECREF(plan);
    Py_XDECREF(seen);
    Py_XDECREF(view);
    Py_XDECREF(key);
    Py_XDECREF(cases);
    Py_XDECREF(around);
    Py_XDECREF(part);
    Py_XDECREF(said);
    Py_XDECREF(facts);
    Py_XDECREF(found);
    Py_XDECREF(body);
    Py_XDECREF(verdict);
    Py_XDECREF(parties);
    Py_XDECREF(decision_id);
    if (result != NULL) {
        return result;
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- `Doorkeeper`: the hashes of the requests a `PolicyEngine` has seen asked ---- */

/* CPython's tuple hash (xxHash's round), over the hashes of a key's parts */
#define XXPRIME_1 ((Py_uhash_t)11400714785074694791ULL)
#define XXPRIME_2 ((Py_uhash_t)14029467366897019727ULL)
#define XXPRIME_5 ((Py_uhash_t)2870177450012600261ULL)
#define XXROTATE(x) ((x << 31) | (x >> 33))

static inline Py_hash_t
part_hash(PyObject *part)
{
    /* a vocabulary member is a str: its text's hash, cached in the object (an Enum's own
     * `__hash__` is a Python call) */
    if (PyUnicode_Check(part)) {
        return PyUnicode_Type.tp_hash(part);
    }
    return PyObject_Hash(part);
}

/* The hash of what `PolicyEngine` keeps a decision under: the request but its date, usage and
 * decision id (`engine._key`), read from its fields without making the key; -1 with an error set. */
static Py_hash_t
request_key_hash(PyObject *request)
{
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "registry.policy.evaluate has not configured the C path");
        return -1;
    }
    if (!Py_IS_TYPE(request, t_request)) {
        PyErr_Format(PyExc_TypeError, "a PolicyRequest is needed, not %.100s", Py_TYPE(request)->tp_name);
        return -1;
    }
    Py_ssize_t offsets[] = {o_req_tenant, o_req_model,   o_req_adapters, o_req_runner,
                            o_req_purpose, o_req_output, o_req_cases,    o_req_regions,
                            o_req_strict, o_req_override, o_req_max_alternatives};
    Py_ssize_t count = (Py_ssize_t)(sizeof(offsets) / sizeof(offsets[0]));
    Py_uhash_t acc = XXPRIME_5;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *part = FIELD(request, offsets[i]);
        Py_hash_t lane;
        if (offsets[i] == o_req_override && part != Py_None) {
            PyObject *plain_part = PyObject_CallOneArg(plain, part); /* a profile: its plain values */
            if (plain_part == NULL) {
                return -1;
            }
            lane = PyObject_Hash(plain_part);
            Py_DECREF(plain_part);
        } else {
            lane = part_hash(part);
        }
        if (lane == -1) {
            return -1;
        }
        acc += (Py_uhash_t)lane * XXPRIME_2;
        acc = XXROTATE(acc);
        acc *= XXPRIME_1;
    }
    acc += (Py_uhash_t)count ^ (XXPRIME_5 ^ 3527539UL);
    return acc == (Py_uhash_t)-1 ? 1546275796 : (Py_hash_t)acc;
}

/* An open-addressing set of hashes in one array of machine words, cleared whole once `limit`
 * are noted. Why not a dict of ints, as before: noting a request there cost an int object, the
 * dict's index and its entry (two reads seldom in the CPU's caches, 0.3 us of a first ask);
 * here it is one read of one word. Exact as the dict was, but that 0 and 1 share a slot (0 marks
 * an empty one): two keys sharing a note only let a decision in early, as two keys sharing a
 * hash did. */
typedef struct {
    PyObject_HEAD
    uint64_t *slots;
    Py_ssize_t mask;
    Py_ssize_t used;
    Py_ssize_t limit;
} DoorkeeperObject;

static PyObject *
doorkeeper_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t limit;
    static char *names[] = {"limit", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "n", names, &limit)) {
        return NULL;
    }
    if (limit < 1 || limit > ((Py_ssize_t)1 << 40)) {
        PyErr_SetString(PyExc_ValueError, "a doorkeeper's limit is from 1 to 2**40 hashes");
        return NULL;
    }
    Py_ssize_t slots = 8;
    while (slots < 2 * limit) {
        slots <<= 1;
    }
    DoorkeeperObject *self = (DoorkeeperObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->slots = PyMem_Calloc((size_t)slots, sizeof(uint64_t));
    if (self->slots == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->mask = slots - 1;
    self->limit = limit;
    return (PyObject *)self;
}

static void
doorkeeper_dealloc(DoorkeeperObject *self)
{
    PyMem_Free(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static void
doorkeeper_forget(DoorkeeperObject *self)
{
    memset(self->slots, 0, (size_t)(self->mask + 1) * sizeof(uint64_t));
    self->used = 0;
}

/* note(request) -> int | None: None when the request's key was not noted (it is now), else
 * the key's hash */
static PyObject *
doorkeeper_note(DoorkeeperObject *self, PyObject *request)
{
    Py_hash_t hash = request_key_hash(request);
    if (hash == -1) {
        return NULL;
    }
    uint64_t word = hash == 0 ? 1 : (uint64_t)hash;
    size_t mask = (size_t)self->mask, i = (size_t)word & mask;
    uint64_t *slots = self->slots;
    while (slots[i] != 0) {
        if (slots[i] == word) {
            return PyLong_FromSsize_t(hash);
        }
        i = (i + 1) & mask;
    }
    if (self->used >= self->limit) {
        doorkeeper_forget(self);
        i = (size_t)word & mask;
    }
    slots[i] = word;
    self->used++;
    Py_RETURN_NONE;
}

/* first_ask(request, snapshot) -> PolicyDecision | int | None: `note`, and for a first ask
 * that keeps nothing (no alternatives to search for) and names its runner, the decision of the
 * C path (`remembered`, handing over to `evaluate._decided_on` as it does); the key's hash when
 * the request was asked before; None for a first ask it did not decide */
static PyObject *
doorkeeper_first_ask(DoorkeeperObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "first_ask(request, snapshot)");
        return NULL;
    }
    PyObject *request = args[0];
    PyObject *noted = doorkeeper_note(self, request);
    if (noted != Py_None) {
        return noted; /* the hash, or NULL on error */
    }
    Py_DECREF(noted);
    PyObject *runner_id = FIELD(request, o_req_runner);
    int searches = PyObject_IsTrue(FIELD(request, o_req_max_alternatives));
    if (searches < 0) {
        return NULL;
    }
    if (searches || runner_id == Py_None) {
        Py_RETURN_NONE;
    }
    PyObject *remembered_args[4] = {request, args[1], runner_id, Py_None};
    return remembered(NULL, remembered_args, 4);
}

static PyObject *
doorkeeper_key_hash(DoorkeeperObject *self, PyObject *request)
{
    Py_hash_t hash = request_key_hash(request);
    return hash == -1 ? NULL : PyLong_FromSsize_t(hash);
}

static PyObject *
doorkeeper_clear(DoorkeeperObject *self, PyObject *unused)
{
    doorkeeper_forget(self);
    Py_RETURN_NONE;
}

static Py_ssize_t
doorkeeper_len(DoorkeeperObject *self)
{
    return self->used;
}

static PyMethodDef doorkeeper_methods[] = {
    {"note", (PyCFunction)doorkeeper_note, METH_O,
     "note(request) -> int | None: None if the request's key was not noted (it is now), else its hash."},
    {"first_ask", (PyCFunction)(void (*)(void))doorkeeper_first_ask, METH_FASTCALL,
     "first_ask(request, snapshot) -> PolicyDecision | int | None: note, and answer a first ask from the C path."},
    {"key_hash", (PyCFunction)doorkeeper_key_hash, METH_O, "key_hash(request) -> int: the hash `note` uses."},
    {"clear", (PyCFunction)doorkeeper_clear, METH_NOARGS, "clear(): forget every note."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods doorkeeper_as_sequence = {
    .sq_length = (lenfunc)doorkeeper_len,
};

static PyTypeObject DoorkeeperType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "registry.policy._remembered.Doorkeeper",
    .tp_basicsize = sizeof(DoorkeeperObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Doorkeeper(limit): the hashes of the requests a PolicyEngine has seen asked.",
    .tp_new = doorkeeper_new,
    .tp_dealloc = (destructor)doorkeeper_dealloc,
    .tp_methods = doorkeeper_methods,
    .tp_as_sequence = &doorkeeper_as_sequence,
};

static PyObject *
huge_page_arenas(PyObject *module, PyObject *reserve)
{
    Py_ssize_t bytes = PyLong_AsSsize_t(reserve);
    if (bytes < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "the reserve is a number of bytes, at least 0");
        }
        return NULL;
    }
    return PyBool_FromLong(use_huge_page_arenas((size_t)bytes));
}

static PyObject *
arenas_in_region(PyObject *module, PyObject *unused)
{
    return PyLong_FromSize_t(huge_page_arenas_in_use());
}

static PyMethodDef methods[] = {
    {"arenas_in_region", (PyCFunction)arenas_in_region, METH_NOARGS,
     "arenas_in_region() -> int: pymalloc arenas in use from the huge-page region."},
    {"huge_page_arenas", (PyCFunction)huge_page_arenas, METH_O,
     "huge_page_arenas(reserve) -> bool: pymalloc's arenas from a region of `reserve` bytes in huge pages."},
    {"configure", (PyCFunction)configure, METH_O, "configure(parts): the engine's types and objects."},
    {"sha1_state", (PyCFunction)sha1_state, METH_O, "sha1_state(data) -> bytes: SHA-1 state after data."},
    {"uuid5_after", (PyCFunction)(void (*)(void))uuid5_after, METH_FASTCALL,
     "uuid5_after(state, body) -> str: the uuid5 text of SHA-1(prefix + body)."},
    {"remembered", (PyCFunction)(void (*)(void))remembered, METH_FASTCALL,
     "remembered(request, snapshot, runner_id, windows) -> PolicyDecision | None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "registry.policy._remembered", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit__remembered(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL || PyType_Ready(&MemoType) < 0 || PyType_Ready(&DoorkeeperType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && (PyModule_AddObjectRef(module, "Memo", (PyObject *)&MemoType) < 0 ||
                           PyModule_AddObjectRef(module, "Doorkeeper", (PyObject *)&DoorkeeperType) < 0)) {
        Py_CLEAR(module);
    }
    return module;
}
