// Doubly linked lists threaded through their nodes' own fields, for nodes the library already
// owns: the allocator's pools (one list per kind and size class) and arenas (by free-pool count,
// and those with resident free pools), and the weak references of one referent. The caller keeps
// the head (and the tail, for lists that append).
#pragma once

namespace ouro::detail {

template <class T, T* T::*Next, T* T::*Prev>
struct Links {
    // x becomes the head.
    static void push_front(T*& head, T* x) noexcept {
        x->*Prev = nullptr;
        x->*Next = head;
        if (head) head->*Prev = x;
        head = x;
    }
    // x becomes the tail (head and tail are both null for an empty list).
    static void push_back(T*& head, T*& tail, T* x) noexcept {
        x->*Next = nullptr;
        x->*Prev = tail;
        if (tail) tail->*Next = x;
        else head = x;
        tail = x;
    }
    // Takes x out. `head` is only written when x is the head; `tail` may be null for a list that
    // keeps none.
    static void remove(T*& head, T** tail, T* x) noexcept {
        if (x->*Prev) (x->*Prev)->*Next = x->*Next;
        else head = x->*Next;
        if (x->*Next) (x->*Next)->*Prev = x->*Prev;
        else if (tail) *tail = x->*Prev;
        x->*Next = x->*Prev = nullptr;
    }
};

}  // namespace ouro::detail
