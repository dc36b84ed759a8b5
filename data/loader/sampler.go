// Package loader feeds training: samplers that decide which samples form
// each batch of an epoch (shuffled, sharded, identity-balanced,
// dataset-alternating), a loader that decodes and augments batches on
// worker goroutines with bounded prefetch, and collate functions that
// stack or pad samples into tensors.
//
// Every random choice derives from a seed and the epoch, and every sample's
// augmentation from the seed, the epoch, the batch and its position in the
// batch, so the batches are the same whatever the number of workers.
package loader

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"argus/data/transform"
	"argus/tensor"
)

// Batch lists the samples of one batch: indices into dataset Dataset.
type Batch struct {
	Dataset int
	Indices []int
}

// Sampler decides the batches of an epoch.
type Sampler interface {
	Batches(epoch int) ([]Batch, error)
}

func rngFor(seed uint64, parts ...int) *rand.Rand {
	return tensor.NewRNG(transform.Mix(seed, parts...)).Rand()
}

// Indices walks N samples in order or, with Shuffle, in a permutation drawn
// from Seed and the epoch; takes this rank's share when World > 1; and cuts
// the result into batches of BatchSize, dropping a short last batch with
// DropLast.
//
// Sharding follows PyTorch's DistributedSampler: the epoch's order is
// padded by repeating its start until it divides by World (or cut when
// DropLast), and rank r takes positions r, r+World, r+2·World, ...
type Indices struct {
	N         int
	BatchSize int
	Shuffle   bool
	Seed      uint64
	Rank      int
	World     int
	DropLast  bool
	// Dataset is copied into every batch (for samplers over several
	// datasets).
	Dataset int
}

// Order returns this rank's indices of an epoch, before batching.
func (s Indices) Order(epoch int) ([]int, error) {
	world := max(s.World, 1)
	if s.Rank < 0 || s.Rank >= world {
		return nil, fmt.Errorf("sampler: rank %d outside 0..%d", s.Rank, world-1)
	}
	if s.N <= 0 {
		return nil, fmt.Errorf("sampler: empty dataset")
	}
	var order []int
	if s.Shuffle {
		order = rngFor(s.Seed, epoch).Perm(s.N)
	} else {
		order = make([]int, s.N)
		for i := range order {
			order[i] = i
		}
	}
	if world > 1 {
		if s.DropLast {
			order = order[:s.N/world*world]
		} else {
			for len(order)%world != 0 {
				order = append(order, order[len(order)%s.N])
			}
		}
		var mine []int
		for i := s.Rank; i < len(order); i += world {
			mine = append(mine, order[i])
		}
		order = mine
	}
	return order, nil
}

// Batches implements Sampler.
func (s Indices) Batches(epoch int) ([]Batch, error) {
	if s.BatchSize <= 0 {
		return nil, fmt.Errorf("sampler: batch size %d", s.BatchSize)
	}
	order, err := s.Order(epoch)
	if err != nil {
		return nil, err
	}
	var out []Batch
	for lo := 0; lo < len(order); lo += s.BatchSize {
		hi := min(lo+s.BatchSize, len(order))
		if hi-lo < s.BatchSize && s.DropLast {
			break
		}
		out = append(out, Batch{Dataset: s.Dataset, Indices: order[lo:hi]})
	}
	return out, nil
}

// Identities is the identity-balanced sampler of re-ID training: each
// batch holds P identities with K images each, drawn as torchreid's
// RandomIdentitySampler does — each identity's images are shuffled (drawn
// with replacement up to K when it has fewer) and cut into groups of K;
// batches take P random identities that still have groups left, until
// fewer than P do. Batches are dealt round-robin to ranks when World > 1.
type Identities struct {
	// Labels holds each sample's identity.
	Labels      []int
	P, K        int
	Seed        uint64
	Rank, World int
	Dataset     int
}

// Batches implements Sampler.
func (s Identities) Batches(epoch int) ([]Batch, error) {
	if s.P <= 0 || s.K <= 0 {
		return nil, fmt.Errorf("identity sampler: P=%d K=%d", s.P, s.K)
	}
	world := max(s.World, 1)
	if s.Rank < 0 || s.Rank >= world {
		return nil, fmt.Errorf("identity sampler: rank %d outside 0..%d", s.Rank, world-1)
	}
	byID := map[int][]int{}
	for i, l := range s.Labels {
		byID[l] = append(byID[l], i)
	}
	ids := make([]int, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) < s.P {
		return nil, fmt.Errorf("identity sampler: %d identities, fewer than P=%d", len(ids), s.P)
	}
	r := rngFor(s.Seed, epoch)
	groups := make([][][]int, len(ids))
	for k, id := range ids {
		idx := slices.Clone(byID[id])
		if len(idx) < s.K {
			for len(idx) < s.K {
				idx = append(idx, byID[id][r.IntN(len(byID[id]))])
			}
		}
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for lo := 0; lo+s.K <= len(idx); lo += s.K {
			groups[k] = append(groups[k], idx[lo:lo+s.K])
		}
	}
	avail := make([]int, len(ids))
	for i := range avail {
		avail[i] = i
	}
	var out []Batch
	for n := 0; len(avail) >= s.P; n++ {
		pick := r.Perm(len(avail))[:s.P]
		slices.Sort(pick)
		var b []int
		for _, p := range pick {
			k := avail[p]
			b = append(b, groups[k][0]...)
			groups[k] = groups[k][1:]
		}
		if n%world == s.Rank {
			out = append(out, Batch{Dataset: s.Dataset, Indices: b})
		}
		avail = slices.DeleteFunc(avail, func(k int) bool { return len(groups[k]) == 0 })
	}
	return out, nil
}

// Alternate is CDCL's dataset alternation: every round takes one batch
// from each of its samplers in turn, for as many rounds as the longest
// sampler has batches; shorter samplers start over with a fresh shuffle
// (their epoch numbers continue as epoch·1024 + pass).
type Alternate []Sampler

// Batches implements Sampler.
func (a Alternate) Batches(epoch int) ([]Batch, error) {
	if len(a) == 0 {
		return nil, fmt.Errorf("alternate: no samplers")
	}
	per := make([][]Batch, len(a))
	passes := make([]int, len(a))
	rounds := 0
	for d, s := range a {
		b, err := s.Batches(epoch * 1024)
		if err != nil {
			return nil, fmt.Errorf("alternate: dataset %d: %w", d, err)
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("alternate: dataset %d has no batches", d)
		}
		per[d] = b
		rounds = max(rounds, len(b))
	}
	var out []Batch
	for r := 0; r < rounds; r++ {
		for d, s := range a {
			for r >= len(per[d]) {
				passes[d]++
				more, err := s.Batches(epoch*1024 + passes[d])
				if err != nil {
					return nil, fmt.Errorf("alternate: dataset %d: %w", d, err)
				}
				if len(more) == 0 {
					return nil, fmt.Errorf("alternate: dataset %d has no batches", d)
				}
				per[d] = append(per[d], more...)
			}
			out = append(out, per[d][r])
		}
	}
	return out, nil
}
