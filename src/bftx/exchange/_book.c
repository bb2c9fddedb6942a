/*
 * bftx.exchange._book: the native order book, a drop-in for the reference
 * implementation in book.py (same API, same results; tests/exchange compares
 * the two on random operation sequences).
 *
 * Price-time priority. Each side keeps its price levels in an array sorted so
 * that the best level is last (bids by ascending price, asks by descending
 * price): taking or emptying the best level is O(1), adding or removing
 * another level is a binary search plus a memmove. A level is a doubly linked
 * FIFO of orders, so a cancel is O(1) once the order is found in the id
 * table (open addressing, int64 keys).
 *
 * Owners are bytes objects (account addresses), compared by value for
 * self-trade prevention. Nothing here calls back into Python code, so the
 * book cannot be mutated while it is being walked.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define SIDE_BUY 0
#define SIDE_SELL 1
#define VALUE_MAX (((int64_t)1) << 62)

typedef struct Level Level;

typedef struct Order {
    int64_t id;
    int64_t price;
    int64_t remaining;
    PyObject *owner; /* bytes, strong reference */
    struct Order *previous;
    struct Order *next;
    Level *level;
    int side;
} Order;

struct Level {
    int64_t price;
    int64_t quantity;
    Py_ssize_t count;
    Order *head;
    Order *tail;
};

typedef struct {
    Level **items; /* sorted: best level last */
    Py_ssize_t size;
    Py_ssize_t capacity;
    int side;
} BookSide;

/* --- order id table: open addressing with linear probing --------------- */

#define SLOT_EMPTY (-1)
#define SLOT_DELETED (-2)

typedef struct {
    int64_t *keys;
    Order **values;
    Py_ssize_t capacity; /* power of two */
    Py_ssize_t used;     /* live + deleted slots */
    Py_ssize_t live;
} IdTable;

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int table_init(IdTable *table, Py_ssize_t capacity) {
    table->keys = PyMem_Malloc(sizeof(int64_t) * capacity);
    table->values = PyMem_Malloc(sizeof(Order *) * capacity);
    if (table->keys == NULL || table->values == NULL) {
        PyMem_Free(table->keys);
        PyMem_Free(table->values);
        table->keys = NULL;
        table->values = NULL;
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < capacity; i++) table->keys[i] = SLOT_EMPTY;
    table->capacity = capacity;
    table->used = 0;
    table->live = 0;
    return 0;
}

static Order *table_get(IdTable *table, int64_t key) {
    if (key < 0) return NULL; /* ids are >= 0; negative keys are the slot markers */
    Py_ssize_t mask = table->capacity - 1;
    Py_ssize_t i = (Py_ssize_t)(mix((uint64_t)key) & (uint64_t)mask);
    for (;;) {
        int64_t k = table->keys[i];
        if (k == key) return table->values[i];
        if (k == SLOT_EMPTY) return NULL;
        i = (i + 1) & mask;
    }
}

static void table_put_fresh(IdTable *table, int64_t key, Order *value) {
    /* key is known to be absent */
    Py_ssize_t mask = table->capacity - 1;
    Py_ssize_t i = (Py_ssize_t)(mix((uint64_t)key) & (uint64_t)mask);
    while (table->keys[i] >= 0) i = (i + 1) & mask;
    if (table->keys[i] == SLOT_EMPTY) table->used++;
    table->keys[i] = key;
    table->values[i] = value;
    table->live++;
}

static int table_grow(IdTable *table) {
    IdTable bigger;
    Py_ssize_t capacity = table->capacity;
    if (2 * (table->live + 1) > capacity / 2) capacity *= 2;
    if (table_init(&bigger, capacity) < 0) return -1;
    for (Py_ssize_t i = 0; i < table->capacity; i++) {
        if (table->keys[i] >= 0) table_put_fresh(&bigger, table->keys[i], table->values[i]);
    }
    PyMem_Free(table->keys);
    PyMem_Free(table->values);
    *table = bigger;
    return 0;
}

static int table_put(IdTable *table, int64_t key, Order *value) {
    if (2 * (table->used + 1) > table->capacity) {
        if (table_grow(table) < 0) return -1;
    }
    table_put_fresh(table, key, value);
    return 0;
}

static void table_delete(IdTable *table, int64_t key) {
    Py_ssize_t mask = table->capacity - 1;
    Py_ssize_t i = (Py_ssize_t)(mix((uint64_t)key) & (uint64_t)mask);
    for (;;) {
        int64_t k = table->keys[i];
        if (k == key) {
            table->keys[i] = SLOT_DELETED;
            table->live--;
            return;
        }
        if (k == SLOT_EMPTY) return;
        i = (i + 1) & mask;
    }
}

/* --- sides and levels ---------------------------------------------------- */

/* Sort key: ascending key order puts the best level last on both sides. */
static inline int64_t level_key(int side, int64_t price) { return side == SIDE_BUY ? price : -price; }

/* Index of the first level whose key is >= key. */
static Py_ssize_t side_search(BookSide *side, int64_t key) {
    Py_ssize_t low = 0, high = side->size;
    while (low < high) {
        Py_ssize_t middle = (low + high) / 2;
        if (level_key(side->side, side->items[middle]->price) < key)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

static Level *side_level_for(BookSide *side, int64_t price) {
    int64_t key = level_key(side->side, price);
    Py_ssize_t index = side_search(side, key);
    if (index < side->size && side->items[index]->price == price) return side->items[index];
    if (side->size == side->capacity) {
        Py_ssize_t capacity = side->capacity ? 2 * side->capacity : 16;
        Level **items = PyMem_Realloc(side->items, sizeof(Level *) * capacity);
        if (items == NULL) return (Level *)PyErr_NoMemory();
        side->items = items;
        side->capacity = capacity;
    }
    Level *level = PyMem_Malloc(sizeof(Level));
    if (level == NULL) return (Level *)PyErr_NoMemory();
    level->price = price;
    level->quantity = 0;
    level->count = 0;
    level->head = NULL;
    level->tail = NULL;
    memmove(&side->items[index + 1], &side->items[index], sizeof(Level *) * (side->size - index));
    side->items[index] = level;
    side->size++;
    return level;
}

static void side_drop_level(BookSide *side, Level *level) {
    Py_ssize_t index;
    if (side->size > 0 && side->items[side->size - 1] == level) {
        index = side->size - 1;
    } else {
        index = side_search(side, level_key(side->side, level->price));
    }
    memmove(&side->items[index], &side->items[index + 1], sizeof(Level *) * (side->size - index - 1));
    side->size--;
    PyMem_Free(level);
}

static void level_unlink(Level *level, Order *order) {
    if (order->previous) order->previous->next = order->next;
    else level->head = order->next;
    if (order->next) order->next->previous = order->previous;
    else level->tail = order->previous;
    level->count--;
}

/* --- the book object ------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    BookSide sides[2];
    IdTable ids;
} OrderBookObject;

static void free_order(OrderBookObject *book, Order *order) {
    table_delete(&book->ids, order->id);
    Py_DECREF(order->owner);
    PyMem_Free(order);
}

static void book_dealloc(OrderBookObject *self) {
    for (int s = 0; s < 2; s++) {
        BookSide *side = &self->sides[s];
        for (Py_ssize_t i = 0; i < side->size; i++) {
            Order *order = side->items[i]->head;
            while (order) {
                Order *next = order->next;
                Py_DECREF(order->owner);
                PyMem_Free(order);
                order = next;
            }
            PyMem_Free(side->items[i]);
        }
        PyMem_Free(side->items);
    }
    PyMem_Free(self->ids.keys);
    PyMem_Free(self->ids.values);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *book_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    if (PyTuple_GET_SIZE(args) != 0 || (kwargs && PyDict_GET_SIZE(kwargs) != 0)) {
        PyErr_SetString(PyExc_TypeError, "OrderBook() takes no arguments");
        return NULL;
    }
    OrderBookObject *self = (OrderBookObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    for (int s = 0; s < 2; s++) {
        self->sides[s].items = NULL;
        self->sides[s].size = 0;
        self->sides[s].capacity = 0;
        self->sides[s].side = s;
    }
    if (table_init(&self->ids, 64) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int check_side(int side) {
    if (side != SIDE_BUY && side != SIDE_SELL) {
        PyErr_SetString(PyExc_ValueError, "side must be 0 (buy) or 1 (sell)");
        return -1;
    }
    return 0;
}

static int check_range(const char *what, long long value, long long low) {
    if (value < low || value >= VALUE_MAX) {
        PyErr_Format(PyExc_ValueError, "%s out of range: %lld", what, value);
        return -1;
    }
    return 0;
}

static inline int same_owner(PyObject *a, PyObject *b) {
    if (a == b) return 1;
    Py_ssize_t size = PyBytes_GET_SIZE(a);
    return size == PyBytes_GET_SIZE(b) && memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), size) == 0;
}

/* Reserve what resting an order needs (its memory, its id, its level) without linking it, so the
   caller can still give up (`unreserve_rest`) and leave the book as it was. */
static Order *reserve_rest(OrderBookObject *self, int64_t id, int side_number, int64_t price) {
    Order *order = PyMem_Malloc(sizeof(Order));
    if (order == NULL) return (Order *)PyErr_NoMemory();
    if (table_put(&self->ids, id, order) < 0) {
        PyMem_Free(order);
        return NULL;
    }
    Level *level = side_level_for(&self->sides[side_number], price);
    if (level == NULL) {
        table_delete(&self->ids, id);
        PyMem_Free(order);
        return NULL;
    }
    order->id = id;
    order->price = price;
    order->side = side_number;
    order->level = level;
    return order;
}

static void unreserve_rest(OrderBookObject *self, Order *order) {
    if (order->level->count == 0) side_drop_level(&self->sides[order->side], order->level);
    table_delete(&self->ids, order->id);
    PyMem_Free(order);
}

/* Link a reserved order at the tail of its level: cannot fail. */
static void link_rest(Order *order, PyObject *owner, int64_t lots) {
    Level *level = order->level;
    order->remaining = lots;
    Py_INCREF(owner);
    order->owner = owner;
    order->next = NULL;
    order->previous = level->tail;
    if (level->tail) level->tail->next = order;
    else level->head = order;
    level->tail = order;
    level->count++;
    level->quantity += lots;
}

static PyObject *book_place(OrderBookObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError,
                        "place(order_id, owner, side, price_ticks, lots, rest, prevent_self_trade)");
        return NULL;
    }
    long long id = PyLong_AsLongLong(args[0]);
    if (id == -1 && PyErr_Occurred()) return NULL;
    PyObject *owner = args[1];
    if (!PyBytes_CheckExact(owner)) {
        PyErr_SetString(PyExc_TypeError, "owner must be bytes");
        return NULL;
    }
    long side_long = PyLong_AsLong(args[2]);
    if (side_long == -1 && PyErr_Occurred()) return NULL;
    int side_number = side_long == SIDE_BUY || side_long == SIDE_SELL ? (int)side_long : -1; /* no truncation */
    long long price = PyLong_AsLongLong(args[3]);
    if (price == -1 && PyErr_Occurred()) return NULL;
    long long lots = PyLong_AsLongLong(args[4]);
    if (lots == -1 && PyErr_Occurred()) return NULL;
    int rest = PyObject_IsTrue(args[5]);
    int prevent_self_trade = PyObject_IsTrue(args[6]);
    if (rest < 0 || prevent_self_trade < 0) return NULL;
    if (check_side(side_number) < 0 || check_range("order id", id, 0) < 0 ||
        check_range("price", price, 1) < 0 || check_range("lots", lots, 1) < 0)
        return NULL;

    if (table_get(&self->ids, id) != NULL) {
        PyErr_Format(PyExc_ValueError, "order id %lld is already in the book", (long long)id);
        return NULL;
    }

    /* Every step that can fail (allocations, building the result) runs before the book changes,
       so an error leaves the book exactly as it was; the matching then applies what was planned. */
    BookSide *opposite = &self->sides[1 - side_number];
    int64_t bound = level_key(opposite->side, price);
    int64_t remaining = lots;
    PyObject *fills = PyList_New(0);
    if (fills == NULL) return NULL;
    PyObject *cancels = Py_None;
    Py_INCREF(Py_None);
    PyObject *result = NULL;
    Order *resting = NULL;

    /* 1. plan, read only: the fills and self-trade cancels, best level first */
    for (Py_ssize_t index = opposite->size; remaining > 0 && index > 0; index--) {
        Level *level = opposite->items[index - 1];
        if (level_key(opposite->side, level->price) < bound) break;
        for (Order *maker = level->head; remaining > 0 && maker; maker = maker->next) {
            PyObject *entry;
            if (prevent_self_trade && same_owner(maker->owner, owner)) {
                if (cancels == Py_None) {
                    Py_DECREF(Py_None);
                    cancels = PyList_New(0);
                    if (cancels == NULL) goto error;
                }
                entry = Py_BuildValue("(LL)", (long long)maker->id, (long long)maker->remaining);
                if (entry == NULL || PyList_Append(cancels, entry) < 0) {
                    Py_XDECREF(entry);
                    goto error;
                }
            } else {
                int64_t filled = maker->remaining < remaining ? maker->remaining : remaining;
                entry = Py_BuildValue("(LLL)", (long long)maker->id, (long long)filled, (long long)level->price);
                if (entry == NULL || PyList_Append(fills, entry) < 0) {
                    Py_XDECREF(entry);
                    goto error;
                }
                remaining -= filled;
            }
            Py_DECREF(entry);
        }
    }
    /* 2. reserve the rest and build the result */
    if (remaining > 0 && rest) {
        resting = reserve_rest(self, id, side_number, price);
        if (resting == NULL) goto error;
    }
    result = Py_BuildValue("(OOL)", fills, cancels, (long long)remaining);
    if (result == NULL) goto error;
    Py_DECREF(fills);
    Py_DECREF(cancels);

    /* 3. apply the plan: nothing below can fail */
    int64_t left = lots;
    while (left > 0 && opposite->size > 0) {
        Level *level = opposite->items[opposite->size - 1];
        if (level_key(opposite->side, level->price) < bound) break;
        Order *maker = level->head;
        while (left > 0 && maker) {
            Order *next = maker->next;
            if (prevent_self_trade && same_owner(maker->owner, owner)) {
                level->quantity -= maker->remaining;
                level_unlink(level, maker);
                free_order(self, maker);
            } else {
                int64_t filled = maker->remaining < left ? maker->remaining : left;
                maker->remaining -= filled;
                level->quantity -= filled;
                left -= filled;
                if (maker->remaining == 0) {
                    level_unlink(level, maker);
                    free_order(self, maker);
                }
            }
            maker = next;
        }
        if (level->count == 0) side_drop_level(opposite, level);
    }
    assert(left == remaining);
    if (resting != NULL) link_rest(resting, owner, remaining);
    return result;
error:
    if (resting != NULL) unreserve_rest(self, resting);
    Py_DECREF(fills);
    Py_XDECREF(cancels);
    return NULL;
}

static PyObject *book_cancel(OrderBookObject *self, PyObject *arg) {
    long long id = PyLong_AsLongLong(arg);
    if (id == -1 && PyErr_Occurred()) return NULL;
    Order *order = table_get(&self->ids, id);
    if (order == NULL) return PyLong_FromLong(0);
    int64_t remaining = order->remaining;
    Level *level = order->level;
    level->quantity -= remaining;
    level_unlink(level, order);
    if (level->count == 0) side_drop_level(&self->sides[order->side], level);
    free_order(self, order);
    return PyLong_FromLongLong(remaining);
}

static PyObject *book_remaining(OrderBookObject *self, PyObject *arg) {
    long long id = PyLong_AsLongLong(arg);
    if (id == -1 && PyErr_Occurred()) return NULL;
    Order *order = table_get(&self->ids, id);
    return PyLong_FromLongLong(order ? order->remaining : 0);
}

static int parse_side(PyObject *arg, int *side) {
    long value = PyLong_AsLong(arg);
    if (value == -1 && PyErr_Occurred()) return -1;
    *side = value == SIDE_BUY || value == SIDE_SELL ? (int)value : -1; /* 2**32 is not BUY */
    return check_side(*side);
}

static PyObject *book_best(OrderBookObject *self, PyObject *arg) {
    int side;
    if (parse_side(arg, &side) < 0) return NULL;
    BookSide *book_side = &self->sides[side];
    if (book_side->size == 0) Py_RETURN_NONE;
    return PyLong_FromLongLong(book_side->items[book_side->size - 1]->price);
}

static PyObject *book_would_cross(OrderBookObject *self, PyObject *const *args, Py_ssize_t nargs) {
    int side;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "would_cross(side, price_ticks)");
        return NULL;
    }
    if (parse_side(args[0], &side) < 0) return NULL;
    long long price = PyLong_AsLongLong(args[1]);
    if (price == -1 && PyErr_Occurred()) return NULL;
    BookSide *opposite = &self->sides[1 - side];
    if (opposite->size == 0) Py_RETURN_FALSE;
    Level *best = opposite->items[opposite->size - 1];
    if (level_key(opposite->side, best->price) >= level_key(opposite->side, price)) Py_RETURN_TRUE;
    Py_RETURN_FALSE;
}

static PyObject *book_fillable(OrderBookObject *self, PyObject *const *args, Py_ssize_t nargs) {
    int side;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "fillable(side, price_ticks, lots, owner)");
        return NULL;
    }
    if (parse_side(args[0], &side) < 0) return NULL;
    long long price = PyLong_AsLongLong(args[1]);
    if (price == -1 && PyErr_Occurred()) return NULL;
    long long lots = PyLong_AsLongLong(args[2]);
    if (lots == -1 && PyErr_Occurred()) return NULL;
    PyObject *owner = args[3];
    if (!PyBytes_CheckExact(owner)) {
        PyErr_SetString(PyExc_TypeError, "owner must be bytes");
        return NULL;
    }
    BookSide *opposite = &self->sides[1 - side];
    int64_t bound = level_key(opposite->side, price);
    int64_t total = 0;
    for (Py_ssize_t i = opposite->size - 1; i >= 0 && total < lots; i--) {
        Level *level = opposite->items[i];
        if (level_key(opposite->side, level->price) < bound) break;
        for (Order *order = level->head; order && total < lots; order = order->next) {
            if (!same_owner(order->owner, owner)) total += order->remaining;
        }
    }
    return PyLong_FromLongLong(total < lots ? total : lots);
}

static PyObject *book_depth(OrderBookObject *self, PyObject *const *args, Py_ssize_t nargs) {
    int side;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "depth(side, levels)");
        return NULL;
    }
    if (parse_side(args[0], &side) < 0) return NULL;
    Py_ssize_t count = PyLong_AsSsize_t(args[1]);
    if (count == -1 && PyErr_Occurred()) return NULL;
    BookSide *book_side = &self->sides[side];
    if (count > book_side->size) count = book_side->size;
    if (count < 0) count = 0;
    PyObject *result = PyList_New(count);
    if (result == NULL) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        Level *level = book_side->items[book_side->size - 1 - i];
        PyObject *entry = Py_BuildValue("(LL)", (long long)level->price, (long long)level->quantity);
        if (entry == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyList_SET_ITEM(result, i, entry);
    }
    return result;
}

static PyObject *book_orders(OrderBookObject *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *result = PyList_New(0);
    if (result == NULL) return NULL;
    for (int s = 0; s < 2; s++) {
        BookSide *side = &self->sides[s];
        for (Py_ssize_t i = side->size - 1; i >= 0; i--) {
            for (Order *order = side->items[i]->head; order; order = order->next) {
                PyObject *entry = Py_BuildValue("(LOiLL)", (long long)order->id, order->owner, s,
                                                (long long)order->price, (long long)order->remaining);
                if (entry == NULL || PyList_Append(result, entry) < 0) {
                    Py_XDECREF(entry);
                    Py_DECREF(result);
                    return NULL;
                }
                Py_DECREF(entry);
            }
        }
    }
    return result;
}

static PyObject *book_levels(OrderBookObject *self, PyObject *arg) {
    /* (price, quantity, count) of every level of a side, best first: for invariant checks. */
    int side;
    if (parse_side(arg, &side) < 0) return NULL;
    BookSide *book_side = &self->sides[side];
    PyObject *result = PyList_New(book_side->size);
    if (result == NULL) return NULL;
    for (Py_ssize_t i = 0; i < book_side->size; i++) {
        Level *level = book_side->items[book_side->size - 1 - i];
        PyObject *entry =
            Py_BuildValue("(LLn)", (long long)level->price, (long long)level->quantity, level->count);
        if (entry == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyList_SET_ITEM(result, i, entry);
    }
    return result;
}

static Py_ssize_t book_length(OrderBookObject *self) { return self->ids.live; }

static PyMethodDef book_methods[] = {
    {"place", (PyCFunction)(void (*)(void))book_place, METH_FASTCALL,
     "place(order_id, owner, side, price_ticks, lots, rest, prevent_self_trade) -> (fills, cancels, remaining)"},
    {"cancel", (PyCFunction)book_cancel, METH_O, "cancel(order_id) -> remaining lots (0 if not resting)"},
    {"remaining", (PyCFunction)book_remaining, METH_O, "remaining(order_id) -> lots (0 if not resting)"},
    {"best", (PyCFunction)book_best, METH_O, "best(side) -> best price or None"},
    {"would_cross", (PyCFunction)(void (*)(void))book_would_cross, METH_FASTCALL,
     "would_cross(side, price_ticks) -> bool"},
    {"fillable", (PyCFunction)(void (*)(void))book_fillable, METH_FASTCALL,
     "fillable(side, price_ticks, lots, owner) -> lots fillable now, excluding owner's orders"},
    {"depth", (PyCFunction)(void (*)(void))book_depth, METH_FASTCALL,
     "depth(side, levels) -> [(price, quantity)] best first"},
    {"orders", (PyCFunction)book_orders, METH_NOARGS,
     "orders() -> [(order_id, owner, side, price, remaining)], bids then asks, priority order"},
    {"levels", (PyCFunction)book_levels, METH_O, "levels(side) -> [(price, quantity, count)] best first"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods book_as_sequence = {
    .sq_length = (lenfunc)book_length,
};

static PyTypeObject OrderBookType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "bftx.exchange._book.OrderBook",
    .tp_basicsize = sizeof(OrderBookObject),
    .tp_dealloc = (destructor)book_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Native price-time priority order book (see bftx.exchange.book for the reference).",
    .tp_methods = book_methods,
    .tp_as_sequence = &book_as_sequence,
    .tp_new = book_new,
};

static struct PyModuleDef book_module = {
    PyModuleDef_HEAD_INIT, "_book", "Native order book for bftx.exchange.", -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__book(void) {
    if (PyType_Ready(&OrderBookType) < 0) return NULL;
    PyObject *module = PyModule_Create(&book_module);
    if (module == NULL) return NULL;
    Py_INCREF(&OrderBookType);
    if (PyModule_AddObject(module, "OrderBook", (PyObject *)&OrderBookType) < 0) {
        Py_DECREF(&OrderBookType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
