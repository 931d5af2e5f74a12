package ledger

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Share is one contributor's claim in a split: Key names the contributor,
// such as their account, and Weight is their number of samples.
type Share struct {
	Key    string
	Weight int64
}

// Split divides amount among shares in proportion to their weights by the
// largest-remainder (Hamilton) method, and returns the parts in the order
// of shares. The parts always sum to amount.
//
// Each share first gets floor(amount × weight / total). The units left
// over, fewer than the number of shares, go one each to the shares with the
// largest remainders (amount × weight mod total). Equal remainders go to the
// smaller key in byte order, and equal keys to the earlier share, so the
// split depends only on its input and is the same on every run and machine.
// All arithmetic is on integers.
//
// Weights must be zero or more with a positive total.
func Split(amount int64, shares []Share) ([]int64, error) {
	if amount < 0 {
		return nil, fmt.Errorf("split: negative amount %d", amount)
	}
	var total int64
	for _, s := range shares {
		if s.Weight < 0 {
			return nil, fmt.Errorf("split: share %q has negative weight %d", s.Key, s.Weight)
		}
		if total > math.MaxInt64-s.Weight {
			return nil, fmt.Errorf("split: the weights add up to more than 2^63")
		}
		total += s.Weight
	}
	if total == 0 {
		return nil, fmt.Errorf("split: no share has a positive weight")
	}

	// amount × weight needs up to 126 bits; the quotient fits 64 bits
	// because weight ≤ total.
	parts := make([]int64, len(shares))
	remainders := make([]uint64, len(shares))
	left := amount
	for i, s := range shares {
		hi, lo := bits.Mul64(uint64(amount), uint64(s.Weight))
		q, r := bits.Div64(hi, lo, uint64(total))
		parts[i], remainders[i] = int64(q), r
		left -= int64(q)
	}
	if left == 0 {
		return parts, nil
	}

	// Hand the left-over units to the largest remainders. Only the set of
	// the largest matters, so a selection finds it in linear time where a
	// sort of a million shares would take a second.
	order := make([]int32, len(shares))
	for i := range order {
		order[i] = int32(i)
	}
	before := func(a, b int32) int {
		if c := cmp.Compare(remainders[b], remainders[a]); c != 0 {
			return c
		}
		if c := cmp.Compare(shares[a].Key, shares[b].Key); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	}
	selectFirst(order, int(left), before)
	for _, i := range order[:left] {
		parts[i]++
	}
	return parts, nil
}

// selectFirst reorders s so that its first k elements are the k smallest
// under compare, in no particular order (introselect). compare must be a
// strict total order, so the set it selects is unique.
func selectFirst(s []int32, k int, compare func(a, b int32) int) {
	lo, hi := 0, len(s)
	// Past this depth the pivots were poor; sorting bounds the time.
	depth := 2 * bits.Len(uint(len(s)))
	for hi-lo > 16 {
		if depth == 0 {
			slices.SortFunc(s[lo:hi], compare)
			return
		}
		depth--
		p := partition(s[lo:hi], compare) + lo
		switch {
		case p == k || p == k-1:
			return
		case p < k:
			lo = p + 1
		default:
			hi = p
		}
	}
	slices.SortFunc(s[lo:hi], compare)
}

// partition moves a median-of-three pivot to its final place in s and
// returns that place, with smaller elements before it and larger after.
func partition(s []int32, compare func(a, b int32) int) int {
	last := len(s) - 1
	mid := last / 2
	if compare(s[mid], s[0]) < 0 {
		s[mid], s[0] = s[0], s[mid]
	}
	if compare(s[last], s[0]) < 0 {
		s[last], s[0] = s[0], s[last]
	}
	if compare(s[last], s[mid]) < 0 {
		s[last], s[mid] = s[mid], s[last]
	}
	// The median goes to the end as the pivot.
	s[mid], s[last] = s[last], s[mid]
	pivot := s[last]
	store := 0
	for i := 0; i < last; i++ {
		if compare(s[i], pivot) < 0 {
			s[i], s[store] = s[store], s[i]
			store++
		}
	}
	s[store], s[last] = s[last], s[store]
	return store
}
