package sessioncache

import "github.com/google/uuid"

// lru is a map bounded to max entries that forgets the least recently used one first. It is not
// safe for concurrent use: its shard's mutex guards it.
type lru[V any] struct {
	max   int
	items map[uuid.UUID]*node[V]
	// head is the most recently used entry, tail the least.
	head, tail *node[V]
}

type node[V any] struct {
	key        uuid.UUID
	val        V
	prev, next *node[V]
}

func newLRU[V any](maxEntries int) *lru[V] {
	return &lru[V]{max: max(1, maxEntries), items: make(map[uuid.UUID]*node[V])}
}

func (l *lru[V]) get(k uuid.UUID) (V, bool) {
	n, ok := l.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	l.moveToFront(n)
	return n.val, true
}

// put stores v under k, forgetting the least recently used entry when the map is full.
func (l *lru[V]) put(k uuid.UUID, v V) {
	if n, ok := l.items[k]; ok {
		n.val = v
		l.moveToFront(n)
		return
	}
	n := &node[V]{key: k, val: v}
	l.items[k] = n
	l.pushFront(n)
	if len(l.items) > l.max {
		l.remove(l.tail.key)
	}
}

func (l *lru[V]) remove(k uuid.UUID) {
	n, ok := l.items[k]
	if !ok {
		return
	}
	delete(l.items, k)
	l.unlink(n)
}

// clear forgets everything; a new map lets the old one's memory go.
func (l *lru[V]) clear() {
	l.items = make(map[uuid.UUID]*node[V])
	l.head, l.tail = nil, nil
}

func (l *lru[V]) len() int { return len(l.items) }

func (l *lru[V]) pushFront(n *node[V]) {
	n.prev, n.next = nil, l.head
	if l.head != nil {
		l.head.prev = n
	}
	l.head = n
	if l.tail == nil {
		l.tail = n
	}
}

func (l *lru[V]) unlink(n *node[V]) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next = nil, nil
}

func (l *lru[V]) moveToFront(n *node[V]) {
	if l.head == n {
		return
	}
	l.unlink(n)
	l.pushFront(n)
}
