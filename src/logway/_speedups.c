/*
 * C loops for the Kafka RecordBatch v2 record codec and Kafka's murmur2.
 *
 * Each function matches a pure-Python reference in logway/recordbatch/codec.py and
 * logway/partitioner.py byte for byte; the test suite checks that they agree.
 * Decoding never trusts its input: every length is bounds-checked and a bad
 * record raises ValueError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static PyTypeObject *RecordType = NULL;
static PyObject *to_millis_fn = NULL;
static PyObject *normalize_headers_fn = NULL;
static PyObject *empty_tuple = NULL;

/* ---- growable output buffer: a bytearray, so the result needs no copy ---------- */

typedef struct {
    PyObject *array;  /* bytearray; its size is the capacity */
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Buf;

static int buf_init(Buf *b, Py_ssize_t cap) {
    b->array = PyByteArray_FromStringAndSize(NULL, cap);
    if (!b->array) return -1;
    b->data = PyByteArray_AS_STRING(b->array);
    b->len = 0;
    b->cap = cap;
    return 0;
}

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    if (PyByteArray_Resize(b->array, cap) < 0) return -1;
    b->data = PyByteArray_AS_STRING(b->array);
    b->cap = cap;
    return 0;
}

/* The bytes the records will need, roughly, from the plain bytes values and keys. */
static Py_ssize_t estimate(PyObject **elems, Py_ssize_t count) {
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = elems[i];
        total += 24;
        if (PyBytes_Check(item)) {
            total += PyBytes_GET_SIZE(item);
        } else if (PyTuple_Check(item)) {
            for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(item) && k < 2; k++) {
                PyObject *field = PyTuple_GET_ITEM(item, k);
                if (PyBytes_Check(field)) total += PyBytes_GET_SIZE(field);
            }
        }
    }
    return total;
}

static inline int varint_size(int64_t n) {
    uint64_t z = ((uint64_t)n << 1) ^ (uint64_t)(n >> 63);
    int size = 1;
    while (z > 0x7F) { z >>= 7; size++; }
    return size;
}

static inline char *put_varint(char *p, int64_t n) {
    uint64_t z = ((uint64_t)n << 1) ^ (uint64_t)(n >> 63);
    while (z > 0x7F) { *p++ = (char)((z & 0x7F) | 0x80); z >>= 7; }
    *p++ = (char)z;
    return p;
}

/* ---- field access ----------------------------------------------------------- */

typedef struct {
    const char *ptr;
    Py_ssize_t len;   /* -1 means null */
    Py_buffer view;
    int has_view;
} Field;

static void field_release(Field *f) {
    if (f->has_view) { PyBuffer_Release(&f->view); f->has_view = 0; }
}

/* bytes, str (UTF-8), None, or any buffer. */
static int field_get(PyObject *obj, Field *f, const char *what) {
    f->has_view = 0;
    if (obj == Py_None) { f->ptr = NULL; f->len = -1; return 0; }
    if (PyBytes_CheckExact(obj)) {
        f->ptr = PyBytes_AS_STRING(obj); f->len = PyBytes_GET_SIZE(obj); return 0;
    }
    if (PyUnicode_Check(obj)) {
        f->ptr = PyUnicode_AsUTF8AndSize(obj, &f->len);
        return f->ptr ? 0 : -1;
    }
    if (PyObject_CheckBuffer(obj)) {
        if (PyObject_GetBuffer(obj, &f->view, PyBUF_SIMPLE) < 0) return -1;
        f->has_view = 1; f->ptr = f->view.buf; f->len = f->view.len; return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s must be bytes, str or None, not %.100s",
                 what, Py_TYPE(obj)->tp_name);
    return -1;
}

/* Headers in stored form: a tuple of (str, bytes|None) 2-tuples. */
static int headers_canonical(PyObject *h) {
    if (!PyTuple_CheckExact(h)) return 0;
    Py_ssize_t n = PyTuple_GET_SIZE(h);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyTuple_GET_ITEM(h, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) return 0;
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(pair, 0))) return 0;
        PyObject *v = PyTuple_GET_ITEM(pair, 1);
        if (v != Py_None && !PyBytes_CheckExact(v)) return 0;
    }
    return 1;
}

/* ---- encode ----------------------------------------------------------------- */

static PyObject *encode_records(PyObject *self, PyObject *args) {
    PyObject *items, *to_ms = NULL;
    long long default_ts, max_record_bytes;
    Py_ssize_t prefix = 0, partitions = 0;
    if (!PyArg_ParseTuple(args, "OLL|Onn", &items, &default_ts, &max_record_bytes, &to_ms,
                          &prefix, &partitions))
        return NULL;
    if (prefix < 0) {
        PyErr_SetString(PyExc_ValueError, "prefix must not be negative");
        return NULL;
    }
    if (!to_ms || to_ms == Py_None) to_ms = to_millis_fn;
    PyObject *seq = PySequence_Fast(items, "records must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    if (count == 0) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "cannot encode an empty batch");
        return NULL;
    }
    PyObject **elems = PySequence_Fast_ITEMS(seq);
    Buf out;
    if (buf_init(&out, prefix + estimate(elems, count)) < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    memset(out.data, 0, prefix);
    out.len = prefix;
    long long first_ts = 0, max_ts = 0;
    PyObject *result = NULL;

    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = elems[i];
        PyObject *value_obj = item, *key_obj = Py_None, *headers_obj = NULL, *ts_obj = Py_None;
        if (PyTuple_Check(item)) {
            Py_ssize_t n = PyTuple_GET_SIZE(item);
            if (n < 1 || n > 5) goto bad_item;
            value_obj = PyTuple_GET_ITEM(item, 0);
            if (n > 1) key_obj = PyTuple_GET_ITEM(item, 1);
            if (n > 2) headers_obj = PyTuple_GET_ITEM(item, 2);
            if (n > 4) ts_obj = PyTuple_GET_ITEM(item, 4);
            if (n > 3 && partitions > 0 && PyTuple_GET_ITEM(item, 3) != Py_None) {
                PyObject *part = PyTuple_GET_ITEM(item, 3);
                long long want = PyLong_CheckExact(part) ? PyLong_AsLongLong(part) : -1;
                if (want == -1 && PyErr_Occurred()) PyErr_Clear();
                if (!PyLong_CheckExact(part) || want < 0 || want >= partitions) {
                    PyObject *shown = PyObject_Repr(part);
                    PyErr_Format(PyExc_ValueError,
                                 "record %zd asks for partition %U; the topic has partitions "
                                 "0 to %zd", i, shown ? shown : Py_None, partitions - 1);
                    Py_XDECREF(shown);
                    goto fail;
                }
            }
        } else if (!(item == Py_None || PyBytes_Check(item) || PyUnicode_Check(item) ||
                     PyByteArray_Check(item) || PyMemoryView_Check(item))) {
            goto bad_item;
        }

        long long ts;
        if (ts_obj == Py_None) {
            ts = default_ts;
        } else if (PyLong_CheckExact(ts_obj)) {
            ts = PyLong_AsLongLong(ts_obj);
            if (ts == -1 && PyErr_Occurred()) goto fail;
        } else {
            PyObject *ms = PyObject_CallOneArg(to_ms, ts_obj);
            if (!ms) goto fail;
            ts = (ms == Py_None) ? default_ts : PyLong_AsLongLong(ms);
            Py_DECREF(ms);
            if (ts == -1 && PyErr_Occurred()) goto fail;
        }
        if (i == 0) { first_ts = ts; max_ts = ts; }
        if (ts > max_ts) max_ts = ts;

        PyObject *headers = NULL;  /* new reference, canonical form */
        if (headers_obj == NULL || headers_obj == Py_None ||
            (PyTuple_CheckExact(headers_obj) && PyTuple_GET_SIZE(headers_obj) == 0)) {
            headers = NULL;
        } else if (headers_canonical(headers_obj)) {
            Py_INCREF(headers_obj);
            headers = headers_obj;
        } else {
            headers = PyObject_CallOneArg(normalize_headers_fn, headers_obj);
            if (!headers) goto fail;
        }

        Field key, value;
        if (field_get(key_obj, &key, "key") < 0) { Py_XDECREF(headers); goto fail; }
        if (field_get(value_obj, &value, "value") < 0) {
            field_release(&key); Py_XDECREF(headers); goto fail;
        }

        Py_ssize_t n_headers = headers ? PyTuple_GET_SIZE(headers) : 0;
        int64_t ts_delta = (int64_t)(ts - first_ts);
        Py_ssize_t body = 1 + varint_size(ts_delta) + varint_size((int64_t)i)
            + (key.len < 0 ? 1 : varint_size(key.len) + key.len)
            + (value.len < 0 ? 1 : varint_size(value.len) + value.len)
            + varint_size(n_headers);
        for (Py_ssize_t h = 0; h < n_headers; h++) {
            PyObject *pair = PyTuple_GET_ITEM(headers, h);
            Py_ssize_t nlen;
            if (!PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &nlen)) {
                field_release(&key); field_release(&value); Py_XDECREF(headers); goto fail;
            }
            PyObject *hv = PyTuple_GET_ITEM(pair, 1);
            body += varint_size(nlen) + nlen
                + (hv == Py_None ? 1 : varint_size(PyBytes_GET_SIZE(hv)) + PyBytes_GET_SIZE(hv));
        }
        if (body > max_record_bytes) {
            field_release(&key); field_release(&value); Py_XDECREF(headers);
            PyErr_Format(PyExc_ValueError,
                         "record %zd is %zd bytes encoded, over the limit of %lld",
                         i, body, max_record_bytes);
            goto fail;
        }
        if (buf_reserve(&out, body + 10) < 0) {
            field_release(&key); field_release(&value); Py_XDECREF(headers); goto fail;
        }
        char *p = out.data + out.len;
        p = put_varint(p, body);
        *p++ = 0;
        p = put_varint(p, ts_delta);
        p = put_varint(p, (int64_t)i);
        if (key.len < 0) { *p++ = 1; }
        else { p = put_varint(p, key.len); memcpy(p, key.ptr, key.len); p += key.len; }
        if (value.len < 0) { *p++ = 1; }
        else { p = put_varint(p, value.len); memcpy(p, value.ptr, value.len); p += value.len; }
        p = put_varint(p, n_headers);
        for (Py_ssize_t h = 0; h < n_headers; h++) {
            PyObject *pair = PyTuple_GET_ITEM(headers, h);
            Py_ssize_t nlen;
            const char *name = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &nlen);
            p = put_varint(p, nlen); memcpy(p, name, nlen); p += nlen;
            PyObject *hv = PyTuple_GET_ITEM(pair, 1);
            if (hv == Py_None) { *p++ = 1; }
            else {
                Py_ssize_t vlen = PyBytes_GET_SIZE(hv);
                p = put_varint(p, vlen); memcpy(p, PyBytes_AS_STRING(hv), vlen); p += vlen;
            }
        }
        out.len = p - out.data;
        field_release(&key);
        field_release(&value);
        Py_XDECREF(headers);
        continue;

    bad_item:
        PyErr_Format(PyExc_TypeError,
                     "records must be bytes, str or Message(value, key, headers, partition, "
                     "timestamp), not %.100s", Py_TYPE(item)->tp_name);
        goto fail;
    }
    if (PyByteArray_Resize(out.array, out.len) == 0) {
        result = Py_BuildValue("(OnLL)", out.array, count, first_ts, max_ts);
    }
fail:
    Py_DECREF(out.array);
    Py_DECREF(seq);
    return result;
}

/* ---- decode ----------------------------------------------------------------- */

static inline int read_varint(const unsigned char *buf, Py_ssize_t *pos, Py_ssize_t end,
                              int64_t *out) {
    uint64_t z = 0;
    int shift = 0;
    Py_ssize_t p = *pos;
    for (;;) {
        if (p >= end) {
            PyErr_SetString(PyExc_ValueError, "varint runs past the end of the record");
            return -1;
        }
        unsigned char b = buf[p++];
        z |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
        if (shift > 63) {
            PyErr_SetString(PyExc_ValueError, "varint is longer than 10 bytes");
            return -1;
        }
    }
    *pos = p;
    *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    return 0;
}

/* Returns a new reference (bytes or None), or NULL with an exception set. */
static PyObject *read_nullable(const unsigned char *buf, Py_ssize_t *pos, Py_ssize_t end) {
    int64_t n;
    if (read_varint(buf, pos, end, &n) < 0) return NULL;
    if (n < 0) {
        if (n != -1) {
            PyErr_Format(PyExc_ValueError, "negative length %lld", (long long)n);
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if (n > end - *pos) {
        PyErr_SetString(PyExc_ValueError, "field runs past the end of the record");
        return NULL;
    }
    PyObject *b = PyBytes_FromStringAndSize((const char *)buf + *pos, (Py_ssize_t)n);
    *pos += (Py_ssize_t)n;
    return b;
}

static PyObject *decode_records(PyObject *self, PyObject *args) {
    Py_buffer view;
    long long base_offset, first_ts, append_time, min_offset;
    Py_ssize_t count, max_count;
    PyObject *topic, *partition;
    if (!RecordType) {
        PyErr_SetString(PyExc_RuntimeError, "logway._speedups.init() was not called");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*LLnLUOLn", &view, &base_offset, &first_ts, &count,
                          &append_time, &topic, &partition, &min_offset, &max_count))
        return NULL;
    const unsigned char *buf = view.buf;
    Py_ssize_t size = view.len, pos = 0;
    PyObject *out = PyList_New(0);
    if (!out) goto done;

    for (Py_ssize_t i = 0; i < count && PyList_GET_SIZE(out) < max_count; i++) {
        int64_t length, ts_delta, off_delta, n_headers;
        if (read_varint(buf, &pos, size, &length) < 0) goto fail;
        if (length < 1 || length > size - pos) {
            PyErr_SetString(PyExc_ValueError, "record length runs past the end of the batch");
            goto fail;
        }
        Py_ssize_t end = pos + (Py_ssize_t)length, p = pos + 1;
        if (read_varint(buf, &p, end, &ts_delta) < 0) goto fail;
        if (read_varint(buf, &p, end, &off_delta) < 0) goto fail;
        long long offset = base_offset + off_delta;
        if (offset < min_offset) { pos = end; continue; }
        PyObject *key = read_nullable(buf, &p, end);
        if (!key) goto fail;
        PyObject *value = read_nullable(buf, &p, end);
        if (!value) { Py_DECREF(key); goto fail; }
        if (read_varint(buf, &p, end, &n_headers) < 0) { Py_DECREF(key); Py_DECREF(value); goto fail; }
        if (n_headers < 0 || n_headers > end - p) {
            PyErr_SetString(PyExc_ValueError, "negative or impossible header count");
            Py_DECREF(key); Py_DECREF(value); goto fail;
        }
        PyObject *headers;
        if (n_headers == 0) {
            headers = empty_tuple; Py_INCREF(headers);
        } else {
            headers = PyTuple_New((Py_ssize_t)n_headers);
            if (!headers) { Py_DECREF(key); Py_DECREF(value); goto fail; }
            for (int64_t h = 0; h < n_headers; h++) {
                int64_t nlen;
                if (read_varint(buf, &p, end, &nlen) < 0) goto header_fail;
                if (nlen < 0 || nlen > end - p) {
                    PyErr_SetString(PyExc_ValueError, "header key length is invalid");
                    goto header_fail;
                }
                PyObject *name = PyUnicode_DecodeUTF8((const char *)buf + p, (Py_ssize_t)nlen, "replace");
                if (!name) goto header_fail;
                p += (Py_ssize_t)nlen;
                PyObject *hv = read_nullable(buf, &p, end);
                if (!hv) { Py_DECREF(name); goto header_fail; }
                PyObject *pair = PyTuple_Pack(2, name, hv);
                Py_DECREF(name); Py_DECREF(hv);
                if (!pair) goto header_fail;
                PyObject_GC_UnTrack(pair);  /* holds only str and bytes: never in a cycle */
                PyTuple_SET_ITEM(headers, (Py_ssize_t)h, pair);
                continue;
            header_fail:
                Py_DECREF(headers); Py_DECREF(key); Py_DECREF(value);
                goto fail;
            }
        }
        if (p != end) {
            PyErr_SetString(PyExc_ValueError, "record length does not match its fields");
            Py_DECREF(headers); Py_DECREF(key); Py_DECREF(value);
            goto fail;
        }
        long long ts = append_time >= 0 ? append_time : first_ts + ts_delta;
        PyObject *offset_obj = PyLong_FromLongLong(offset);
        PyObject *ts_obj = PyLong_FromLongLong(ts);
        PyObject *rec = RecordType->tp_alloc(RecordType, 7);
        if (!offset_obj || !ts_obj || !rec) {
            Py_XDECREF(offset_obj); Py_XDECREF(ts_obj); Py_XDECREF(rec);
            Py_DECREF(headers); Py_DECREF(key); Py_DECREF(value);
            goto fail;
        }
        Py_INCREF(topic); Py_INCREF(partition);
        PyTuple_SET_ITEM(rec, 0, topic);
        PyTuple_SET_ITEM(rec, 1, partition);
        PyTuple_SET_ITEM(rec, 2, offset_obj);
        PyTuple_SET_ITEM(rec, 3, ts_obj);
        PyTuple_SET_ITEM(rec, 4, key);
        PyTuple_SET_ITEM(rec, 5, value);
        PyTuple_SET_ITEM(rec, 6, headers);
        /* A record holds only str, int, bytes and tuples of those, so it can never be part
         * of a reference cycle; untracking it spares the cyclic GC from walking millions of
         * records (CPython untracks such tuples itself, but only lazily). */
        if (PyObject_IS_GC(headers) && headers != empty_tuple) PyObject_GC_UnTrack(headers);
        PyObject_GC_UnTrack(rec);
        int rc = PyList_Append(out, rec);
        Py_DECREF(rec);
        if (rc < 0) goto fail;
        pos = end;
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    PyBuffer_Release(&view);
    return out;
}

/* ---- murmur2 ---------------------------------------------------------------- */

static int32_t murmur2_raw(const unsigned char *data, Py_ssize_t length) {
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    uint32_t h = 0x9747b28cU ^ (uint32_t)length;
    Py_ssize_t n4 = length / 4;
    for (Py_ssize_t i = 0; i < n4; i++) {
        const unsigned char *d = data + i * 4;
        uint32_t k = (uint32_t)d[0] | ((uint32_t)d[1] << 8) | ((uint32_t)d[2] << 16) |
                     ((uint32_t)d[3] << 24);
        k *= m; k ^= k >> r; k *= m;
        h *= m; h ^= k;
    }
    const unsigned char *tail = data + n4 * 4;
    switch (length & 3) {
        case 3: h ^= (uint32_t)tail[2] << 16; /* fall through */
        case 2: h ^= (uint32_t)tail[1] << 8;  /* fall through */
        case 1: h ^= tail[0]; h *= m;
    }
    h ^= h >> 13; h *= m; h ^= h >> 15;
    return (int32_t)h;
}

static PyObject *murmur2(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    int32_t h = murmur2_raw(view.buf, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromLong(h);
}

/* ---- sizes ------------------------------------------------------------------ */

static Py_ssize_t nullable_size(PyObject *o) {
    return PyBytes_Check(o) ? PyBytes_GET_SIZE(o) : 0;
}

/* Bytes of the keys, values and headers (names in UTF-8) of a list of Records. */
static PyObject *records_size(PyObject *self, PyObject *arg) {
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "records_size takes a list of records");
        return NULL;
    }
    long long total = 0;
    Py_ssize_t n = PyList_GET_SIZE(arg);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *r = PyList_GET_ITEM(arg, i);
        if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) < 7) {
            PyErr_SetString(PyExc_TypeError, "records_size takes Records");
            return NULL;
        }
        total += nullable_size(PyTuple_GET_ITEM(r, 4)) + nullable_size(PyTuple_GET_ITEM(r, 5));
        PyObject *headers = PyTuple_GET_ITEM(r, 6);
        if (!PyTuple_Check(headers)) continue;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(headers); j++) {
            PyObject *pair = PyTuple_GET_ITEM(headers, j);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) continue;
            Py_ssize_t len = 0;
            PyObject *name = PyTuple_GET_ITEM(pair, 0);
            if (PyUnicode_Check(name) && !PyUnicode_AsUTF8AndSize(name, &len)) return NULL;
            total += len + nullable_size(PyTuple_GET_ITEM(pair, 1));
        }
    }
    return PyLong_FromLongLong(total);
}

/* ---- records from a Kafka client's messages ---------------------------------- */

/* Objects with the methods of confluent-kafka's Message (error, topic, partition,
   offset, timestamp, key, value, headers) as Records, up to the first with an error.
   Returns (records, index of that message or -1). The methods are looked up on the
   messages' type once per call, not by name on each message: that lookup was a
   quarter of the time a message took (~200 ns, now ~150). */
enum { M_ERROR, M_TOPIC, M_PARTITION, M_OFFSET, M_TIMESTAMP, M_KEY, M_VALUE, M_HEADERS, M_COUNT };

static PyObject *records_from_messages(PyObject *self, PyObject *arg) {
    static const char *names[M_COUNT] = {"error", "topic", "partition", "offset",
                                         "timestamp", "key", "value", "headers"};
    if (!RecordType) {
        PyErr_SetString(PyExc_RuntimeError, "_speedups.init was not called");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(arg, "messages must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(0);
    if (!out) { Py_DECREF(seq); return NULL; }
    PyObject *methods[M_COUNT] = {NULL};
    PyTypeObject *methods_of = NULL;  /* the type they were looked up on */
    Py_ssize_t failed = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *m = PySequence_Fast_GET_ITEM(seq, i);
        if (Py_TYPE(m) != methods_of) {
            for (int k = 0; k < M_COUNT; k++) {
                Py_CLEAR(methods[k]);
                methods[k] = PyObject_GetAttrString((PyObject *)Py_TYPE(m), names[k]);
                if (!methods[k]) goto fail;
            }
            methods_of = Py_TYPE(m);
        }
        PyObject *err = PyObject_Vectorcall(methods[M_ERROR], &m, 1, NULL);
        if (!err) goto fail;
        int has_error = err != Py_None;
        Py_DECREF(err);
        if (has_error) { failed = i; break; }
        PyObject *rec = RecordType->tp_alloc(RecordType, 7);
        if (!rec) goto fail;
        /* Record's fields 0-5 are the results of methods 1-6 (timestamp's second item) */
        for (int k = M_TOPIC; k <= M_VALUE; k++) {
            PyObject *v = PyObject_Vectorcall(methods[k], &m, 1, NULL);
            if (!v) { Py_DECREF(rec); goto fail; }
            if (k == M_TIMESTAMP) {
                if (!PyTuple_Check(v) || PyTuple_GET_SIZE(v) != 2) {
                    Py_DECREF(v); Py_DECREF(rec);
                    PyErr_SetString(PyExc_TypeError, "timestamp() must be a pair");
                    goto fail;
                }
                PyObject *ts = PyTuple_GET_ITEM(v, 1);
                Py_INCREF(ts);
                Py_DECREF(v);
                v = ts;
            }
            PyTuple_SET_ITEM(rec, k - M_TOPIC, v);
        }
        PyObject *h = PyObject_Vectorcall(methods[M_HEADERS], &m, 1, NULL);
        if (!h) { Py_DECREF(rec); goto fail; }
        PyObject *headers;
        if (h == Py_None) {
            headers = empty_tuple; Py_INCREF(headers);
        } else {
            headers = PySequence_Tuple(h);
            if (!headers) { Py_DECREF(h); Py_DECREF(rec); goto fail; }
        }
        Py_DECREF(h);
        /* headers hold (str, bytes) pairs, and nothing here can refer back to rec:
           never part of a cycle, so the collector need not follow them (as above) */
        if (PyObject_IS_GC(headers) && headers != empty_tuple) PyObject_GC_UnTrack(headers);
        PyTuple_SET_ITEM(rec, 6, headers);
        PyObject_GC_UnTrack(rec);
        int rc = PyList_Append(out, rec);
        Py_DECREF(rec);
        if (rc < 0) goto fail;
    }
    for (int k = 0; k < M_COUNT; k++) Py_XDECREF(methods[k]);
    Py_DECREF(seq);
    return Py_BuildValue("(Nn)", out, failed);
fail:
    for (int k = 0; k < M_COUNT; k++) Py_XDECREF(methods[k]);
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

/* ---- module ----------------------------------------------------------------- */

static PyObject *init(PyObject *self, PyObject *args) {
    PyObject *rt, *tm, *nh;
    if (!PyArg_ParseTuple(args, "O!OO", &PyType_Type, &rt, &tm, &nh)) return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)rt, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "the record type must be a tuple subclass");
        return NULL;
    }
    Py_INCREF(rt); Py_XSETREF(RecordType, (PyTypeObject *)rt);
    Py_INCREF(tm); Py_XSETREF(to_millis_fn, tm);
    Py_INCREF(nh); Py_XSETREF(normalize_headers_fn, nh);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"init", init, METH_VARARGS, "init(RecordType, to_millis, normalize_headers)"},
    {"encode_records", encode_records, METH_VARARGS,
     "encode_records(items, default_timestamp, max_record_bytes[, to_ms[, prefix[, partitions]]])"
     " -> "
     "(bytearray of prefix zero bytes then the records, count, first_timestamp, "
     "max_timestamp)"},
    {"decode_records", decode_records, METH_VARARGS,
     "decode_records(blob, base_offset, first_timestamp, count, append_time, topic, "
     "partition, min_offset, max_count) -> list[Record]"},
    {"murmur2", murmur2, METH_O, "Kafka's murmur2 hash of a bytes-like object, signed 32-bit."},
    {"records_from_messages", records_from_messages, METH_O,
     "records_from_messages(messages) -> (list[Record], index of the first message "
     "with an error, or -1)"},
    {"records_size", records_size, METH_O,
     "records_size(list[Record]) -> bytes of their keys, values and headers"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "logway._speedups",
    "C loops for logway's record codec and partitioner.", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    empty_tuple = PyTuple_New(0);
    if (!empty_tuple) return NULL;
    return PyModule_Create(&module);
}
