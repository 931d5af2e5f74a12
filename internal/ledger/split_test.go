package ledger

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSplitLargestRemainder(t *testing.T) {
	cases := []struct {
		name   string
		amount int64
		shares []Share
		want   []int64
	}{
		// 9999 × 75 % = 7499.25 and 9999 × 25 % = 2499.75: the left-over
		// unit goes to the larger remainder, 0.75.
		{"9999 at 75/25", 9999, []Share{{"a", 75}, {"b", 25}}, []int64{7499, 2500}},
		// 491.47 and 511.53.
		{"1003 at 49/51", 1003, []Share{{"a", 49}, {"b", 51}}, []int64{491, 512}},
		// Three equal remainders: the smallest key gets the unit.
		{"100 among three", 100, []Share{{"p-a", 1}, {"p-b", 1}, {"p-c", 1}}, []int64{34, 33, 33}},
		{"100 among three reordered", 100, []Share{{"p-c", 1}, {"p-a", 1}, {"p-b", 1}}, []int64{33, 34, 33}},
		{"zero amount", 0, []Share{{"a", 1}, {"b", 2}}, []int64{0, 0}},
		{"one share", 5, []Share{{"a", 7}}, []int64{5}},
		{"zero weight", 10, []Share{{"a", 0}, {"b", 3}}, []int64{0, 10}},
		{"fewer units than shares", 2, []Share{{"a", 1}, {"b", 1}, {"c", 1}}, []int64{1, 1, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Split(c.amount, c.shares)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("Split(%d, %v) = %v, want %v", c.amount, c.shares, got, c.want)
			}
		})
	}
}

// TestSplitSameEveryRun repeats the three-way tie with the shares in every
// order: each participant gets the same part whatever the order.
func TestSplitSameEveryRun(t *testing.T) {
	orders := [][]string{{"p-a", "p-b", "p-c"}, {"p-a", "p-c", "p-b"}, {"p-b", "p-a", "p-c"}, {"p-b", "p-c", "p-a"}, {"p-c", "p-a", "p-b"}, {"p-c", "p-b", "p-a"}}
	want := map[string]int64{"p-a": 34, "p-b": 33, "p-c": 33}
	for _, order := range orders {
		shares := make([]Share, len(order))
		for i, k := range order {
			shares[i] = Share{k, 1}
		}
		parts, err := Split(100, shares)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range order {
			if parts[i] != want[k] {
				t.Errorf("order %v: %s got %d, want %d", order, k, parts[i], want[k])
			}
		}
	}
}

// TestSplitSumsExactly checks random splits against the defining
// properties: the parts sum to the amount, each part is its quota rounded
// down or up, and only the largest remainders are rounded up.
func TestSplitSumsExactly(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 2000; round++ {
		n := 1 + rng.IntN(30)
		shares := make([]Share, n)
		var total int64
		for i := range shares {
			shares[i] = Share{fmt.Sprintf("k%03d", rng.IntN(1000)*100+i), rng.Int64N(50)}
			total += shares[i].Weight
		}
		if total == 0 {
			shares[0].Weight = 1
			total = 1
		}
		amount := rng.Int64N(1_000_000_000)
		parts, err := Split(amount, shares)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for i, p := range parts {
			sum += p
			floor := amount * shares[i].Weight / total
			if p != floor && p != floor+1 {
				t.Fatalf("share %v of %d: part %d, quota floor %d", shares[i], amount, p, floor)
			}
		}
		if sum != amount {
			t.Fatalf("parts %v sum to %d, want %d", parts, sum, amount)
		}
	}
}

func TestSplitHugeAmount(t *testing.T) {
	// amount × weight overflows 64 bits; the parts must still be exact.
	parts, err := Split(math.MaxInt64, []Share{{"a", math.MaxInt64 / 2}, {"b", math.MaxInt64 / 2}})
	if err != nil {
		t.Fatal(err)
	}
	if parts[0]+parts[1] != math.MaxInt64 || parts[0] != math.MaxInt64/2+1 {
		t.Errorf("parts %v", parts)
	}
}

func TestSplitRejectsBadInput(t *testing.T) {
	bad := map[string]struct {
		amount int64
		shares []Share
	}{
		"negative amount":  {-1, []Share{{"a", 1}}},
		"negative weight":  {10, []Share{{"a", -1}, {"b", 2}}},
		"no weight":        {10, []Share{{"a", 0}}},
		"no shares":        {10, nil},
		"weight overflows": {10, []Share{{"a", math.MaxInt64}, {"b", 1}}},
	}
	for name, c := range bad {
		if _, err := Split(c.amount, c.shares); err == nil {
			t.Errorf("%s: Split succeeded", name)
		}
	}
}

// BenchmarkSplitMillion splits a royalty among 1,000,000 contributors with
// uneven sample counts, so that nearly every share has a remainder.
func BenchmarkSplitMillion(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	shares := make([]Share, 1_000_000)
	for i := range shares {
		shares[i] = Share{fmt.Sprintf("participant:p-%013d", i), 1 + rng.Int64N(20)}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(123_456_789_01, shares); err != nil {
			b.Fatal(err)
		}
	}
}
