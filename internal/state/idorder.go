package state

import (
	"slices"
	"strings"
)

// idOrder returns the positions of ids in ascending byte order of the ids
// (ids[order[0]] is the smallest). A group's members are rendered in id
// order, and with 10,000 members the sort was a tenth of a GET's time.
// The ids the bridge makes (a Webflow user id, or 12 random bytes in hex:
// 24 lower-case hex digits) are ordered by a radix sort of their value,
// which for equal-length lower-case hex strings is the byte order; any
// other set of ids by comparing them.
func idOrder(ids []string) []int32 {
	order := make([]int32, len(ids))
	if keys, ok := hexKeys(ids); ok {
		radixOrder(keys, order)
		return order
	}
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(ids[a], ids[b]) })
	return order
}

// hexKey is an id of at most 32 lower-case hex digits as a 128-bit number,
// with its position.
type hexKey struct {
	hi, lo uint64
	pos    int32
}

// hexKeys returns the ids as numbers when they all have the same length,
// at most 32, and hold lower-case hex digits only (upper case would sort
// between '9' and 'a' in byte order, not as its value).
func hexKeys(ids []string) ([]hexKey, bool) {
	if len(ids) == 0 || len(ids[0]) == 0 || len(ids[0]) > 32 || len(ids) > 1<<31-1 {
		return nil, false
	}
	n := len(ids[0])
	keys := make([]hexKey, len(ids))
	for i, id := range ids {
		if len(id) != n {
			return nil, false
		}
		var hi, lo uint64
		for j := 0; j < n; j++ {
			c := id[j]
			var v uint64
			switch {
			case c >= '0' && c <= '9':
				v = uint64(c - '0')
			case c >= 'a' && c <= 'f':
				v = uint64(c-'a') + 10
			default:
				return nil, false
			}
			hi = hi<<4 | lo>>60
			lo = lo<<4 | v
		}
		keys[i] = hexKey{hi: hi, lo: lo, pos: int32(i)}
	}
	return keys, true
}

// radixOrder sorts keys by value (a least-significant-digit radix sort,
// 11 bits a pass, skipping the digits all keys share) and writes their
// positions to order.
func radixOrder(keys []hexKey, order []int32) {
	const bits = 11
	tmp := make([]hexKey, len(keys))
	digit := func(k hexKey, shift uint) uint32 {
		var v uint64
		switch {
		case shift+bits <= 64:
			v = k.lo >> shift
		case shift >= 64:
			v = k.hi >> (shift - 64)
		default:
			v = k.lo>>shift | k.hi<<(64-shift)
		}
		return uint32(v) & (1<<bits - 1)
	}
	var count [1 << bits]int32
	for shift := uint(0); shift < 128; shift += bits {
		clear(count[:])
		for _, k := range keys {
			count[digit(k, shift)]++
		}
		if count[digit(keys[0], shift)] == int32(len(keys)) {
			continue
		}
		var sum int32
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, k := range keys {
			d := digit(k, shift)
			tmp[count[d]] = k
			count[d]++
		}
		keys, tmp = tmp, keys
	}
	for i, k := range keys {
		order[i] = k.pos
	}
}
