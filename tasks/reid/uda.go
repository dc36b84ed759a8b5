package reid

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"

	"argus/checkpoint"
	"argus/cluster"
	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/internal/progress"
	"argus/models"
	"argus/nn"
	rid "argus/reid"
	"argus/reid/rerank"
	"argus/tensor"
	"argus/train"
)

// Names of the adaptation's state in a checkpoint, beside the network's
// state dict.
const (
	memoryCentroids = "cluster_memory.centroids"
	memoryLabels    = "cluster_memory.labels"
	memoryEpoch     = "cluster_memory.epoch"
)

// UDA is cluster-wise contrastive learning on the target domain, as
// cluster-contrast runs it: at the start of every adaptation epoch the
// target's training images are extracted in evaluation mode, clustered by
// DBSCAN on their sparse k-reciprocal Jaccard distances, and a cluster
// memory is built from the L2-normalised centroids; the epoch then trains
// on P×K batches of the clustered images (outliers left out) with the
// InfoNCE loss of their normalised post-neck features against the memory,
// which each batch moves with momentum. It is the run's batch source: it
// implements train.Source, serving the source's batches during
// pre-training.
type UDA struct {
	cfg    Config
	net    *models.ReID
	src    *loader.Loader[*loader.Images]
	source *dataset.ReID
	target *dataset.ReID
	log    io.Writer

	// epoch is the 0-based epoch whose pseudo labels are held, −1 before
	// the first clustering; labels holds one per target training image
	// (−1: outlier), classes their number.
	epoch   int
	labels  []int
	classes int
	mem     *rid.ClusterMemory
	// The checkpointed copies of the state, as buffers of module().
	bufCentroids, bufLabels, bufEpoch *tensor.Tensor
	diag                              map[string]float64
}

func newUDA(cfg Config, net *models.ReID, src *loader.Loader[*loader.Images], source, target *dataset.ReID, log io.Writer) *UDA {
	if log == nil {
		log = io.Discard
	}
	n := len(target.Train.Items)
	u := &UDA{cfg: cfg, net: net, src: src, source: source, target: target, log: log, epoch: -1,
		bufCentroids: tensor.Zeros(1, 1), bufLabels: tensor.Full(-1, n), bufEpoch: tensor.Full(-1, 1)}
	return u
}

// udaModule is the network with the adaptation's state as buffers, so that
// the run's checkpoints hold the pseudo labels and the cluster memory.
type udaModule struct{ u *UDA }

func (m udaModule) Members() nn.Members {
	mem := m.u.net.Members()
	mem.Buffers = append(mem.Buffers,
		nn.Buffer{Name: memoryCentroids, Value: m.u.bufCentroids},
		nn.Buffer{Name: memoryLabels, Value: m.u.bufLabels},
		nn.Buffer{Name: memoryEpoch, Value: m.u.bufEpoch})
	return mem
}

func (m udaModule) SetTraining(on bool) { m.u.net.SetTraining(on) }

func (u *UDA) module() nn.Module { return udaModule{u} }

// prepareRestore sizes the state buffers as the checkpoint's, so that
// loading it can fill them.
func (u *UDA) prepareRestore(f *checkpoint.File) error {
	for _, b := range []struct {
		name string
		t    **tensor.Tensor
	}{{memoryCentroids, &u.bufCentroids}, {memoryLabels, &u.bufLabels}, {memoryEpoch, &u.bufEpoch}} {
		e, ok := f.Tensors[b.name]
		if !ok {
			return fmt.Errorf("no %s in the checkpoint (not a checkpoint of --mode uda)", b.name)
		}
		*b.t = tensor.Zeros(e.Shape...)
	}
	if got, want := u.bufLabels.Len(), len(u.target.Train.Items); got != want {
		return fmt.Errorf("the checkpoint's pseudo labels are for %d target images, %s has %d", got, u.target.Name, want)
	}
	return nil
}

// restored takes the state from the buffers a checkpoint filled.
func (u *UDA) restored() error {
	u.epoch = int(u.bufEpoch.Data()[0])
	if u.epoch < 0 {
		return nil
	}
	u.labels = make([]int, u.bufLabels.Len())
	u.classes = 0
	for i, v := range u.bufLabels.Data() {
		u.labels[i] = int(v)
		u.classes = max(u.classes, u.labels[i]+1)
	}
	if k := u.bufCentroids.Shape()[0]; k != u.classes {
		return fmt.Errorf("the checkpoint's cluster memory has %d centroids for %d pseudo classes", k, u.classes)
	}
	u.mem = &rid.ClusterMemory{Centroids: u.bufCentroids, Momentum: float32(u.cfg.UDA.Momentum), Temperature: float32(u.cfg.UDA.Temperature)}
	u.diag = u.diagnose()
	return nil
}

// EpochFrom implements train.Source: the source's batches while
// pre-training, then the pseudo-labelled target's, clustering first when
// the epoch's labels are not yet made.
func (u *UDA) EpochFrom(ctx context.Context, epoch, first int) (*loader.Iter[*loader.Images], error) {
	if epoch < u.cfg.UDA.PretrainEpochs {
		return u.src.EpochFrom(ctx, epoch, first)
	}
	if u.epoch != epoch {
		if err := u.recluster(ctx, epoch); err != nil {
			return nil, err
		}
	}
	set := &dataset.Set{Name: u.target.Name + "/pseudo", Transform: u.cfg.TrainTransform(), Domain: 1}
	var labels []int
	for i, it := range u.target.Train.Items {
		if u.labels[i] < 0 {
			continue
		}
		it.Label = u.labels[i]
		set.Items = append(set.Items, it)
		labels = append(labels, u.labels[i])
	}
	P := u.cfg.Batch / u.cfg.Instances
	if u.classes < P {
		fmt.Fprintf(u.log, "warning: epoch %d: %d pseudo identities, fewer than the %d of a batch: batches of %d\n", epoch+1, u.classes, P, u.classes*u.cfg.Instances)
		P = u.classes
	}
	if u.cfg.UDA.PDA {
		return u.pdaLoader(epoch, set, labels, P).EpochFrom(ctx, epoch, first)
	}
	l := loader.New([]loader.Dataset{set},
		loader.Identities{Labels: labels, P: P, K: u.cfg.Instances, Seed: u.cfg.Seed},
		loader.Stack(imageio.ImageNetMean, imageio.ImageNetStd), loader.Options{Workers: u.cfg.Workers, Seed: u.cfg.Seed})
	return l.EpochFrom(ctx, epoch, first)
}

// recluster extracts the target's training features and makes the
// epoch's pseudo labels and cluster memory. An epoch where DBSCAN finds
// fewer than two clusters keeps the last labels, with a warning; without
// any it is an error.
func (u *UDA) recluster(ctx context.Context, epoch int) error {
	items := u.target.Train
	bar := progress.New(u.log, fmt.Sprintf("epoch %d: extract %s", epoch+1, u.target.Name), "img", len(items.Items))
	bar.Start(0)
	x, d, err := Extract(ctx, u.net, items, u.cfg.EvalTransform(), u.cfg.EvalBatch, u.cfg.Workers, bar.Set)
	bar.Finish()
	if err != nil {
		return fmt.Errorf("epoch %d: extract the target: %w", epoch+1, err)
	}
	n := len(items.Items)
	x = rid.Normalized(x, n, d)
	opt := rerank.Options{K1: min(u.cfg.UDA.K1, n-1), K2: min(u.cfg.UDA.K2, n-1), Lambda: 0}
	nb, err := rerank.JaccardNeighbors(x, n, d, opt, u.cfg.UDA.Eps)
	if err != nil {
		return fmt.Errorf("epoch %d: jaccard distance: %w", epoch+1, err)
	}
	labels, classes := rid.PseudoLabels(cluster.DBSCAN(nb, u.cfg.UDA.MinSamples), rid.DropOutliers)
	if classes < 2 {
		if u.labels == nil {
			return fmt.Errorf("epoch %d: DBSCAN found %d clusters among %d target images (eps %g, min_samples %d) and there are no earlier labels: pre-train longer or raise eps",
				epoch+1, classes, n, u.cfg.UDA.Eps, u.cfg.UDA.MinSamples)
		}
		fmt.Fprintf(u.log, "warning: epoch %d: DBSCAN found %d clusters; keeping the last epoch's %d pseudo labels\n", epoch+1, classes, u.classes)
		labels, classes = u.labels, u.classes
	}
	mem, err := rid.NewClusterMemory(x, n, d, labels, classes, float32(u.cfg.UDA.Momentum), float32(u.cfg.UDA.Temperature))
	if err != nil {
		return fmt.Errorf("epoch %d: %w", epoch+1, err)
	}
	u.labels, u.classes, u.mem, u.epoch = labels, classes, mem, epoch
	u.bufCentroids = mem.Centroids
	u.bufLabels = tensor.Zeros(n)
	for i, l := range labels {
		u.bufLabels.Data()[i] = float32(l)
	}
	u.bufEpoch = tensor.Full(float32(epoch), 1)
	u.diag = u.diagnose()
	fmt.Fprintf(u.log, "epoch %d: %d clusters, %d outliers of %d target images; purity %.3f, NMI %.3f\n",
		epoch+1, classes, int(u.diag["outliers"]), n, u.diag["purity"], u.diag["nmi"])
	return nil
}

// loss is the contrastive loss of a pseudo-labelled target batch, which
// then moves the memory.
func (u *UDA) loss(b *loader.Images) ([]train.Term, error) {
	out := Forward(u.net, b.X, u.cfg.BNBatch)
	f := rid.L2Normalize(out.Neck)
	l, err := u.mem.Loss(f, b.Labels)
	if err != nil {
		return nil, err
	}
	terms := []train.Term{{Name: "ccl", Loss: l}}
	if u.cfg.UDA.FA {
		t, err := u.fourierLoss(b)
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
	// The memory moves after both losses have copied it.
	if err := u.mem.Update(f.Value(), b.Labels); err != nil {
		return nil, err
	}
	return terms, nil
}

// diagnostics returns the pseudo labels' quality of the last clustering
// (none during pre-training).
func (u *UDA) diagnostics() map[string]float64 { return u.diag }

// diagnose measures the pseudo labels against the true target identities,
// which training never reads: the number of clusters and outliers, purity
// (the share of clustered images in their cluster's majority identity) and
// the normalised mutual information of clusters and identities over the
// clustered images (arithmetic normalisation, sklearn's default).
func (u *UDA) diagnose() map[string]float64 {
	truth := u.target.Train.Labels()
	var c, t []int
	outliers := 0
	for i, l := range u.labels {
		if l < 0 {
			outliers++
			continue
		}
		c, t = append(c, l), append(t, truth[i])
	}
	purity, nmi := Purity(c, t), NMI(c, t)
	return map[string]float64{"clusters": float64(u.classes), "outliers": float64(outliers), "purity": purity, "nmi": nmi}
}

// Purity returns the share of samples whose cluster's most frequent true
// label is their own (0 for no samples).
func Purity(clusters, truth []int) float64 {
	if len(clusters) == 0 {
		return 0
	}
	count := map[[2]int]int{}
	best := map[int]int{}
	for i, c := range clusters {
		k := [2]int{c, truth[i]}
		count[k]++
		best[c] = max(best[c], count[k])
	}
	total := 0
	for _, v := range best {
		total += v
	}
	return float64(total) / float64(len(clusters))
}

// NMI returns the normalised mutual information of two labelings,
// I(A;B)/((H(A)+H(B))/2) as sklearn's normalized_mutual_info_score with
// arithmetic normalisation: 1 when both are a single class, 0 when one is.
func NMI(a, b []int) float64 {
	n := float64(len(a))
	if n == 0 {
		return 0
	}
	ca, cb, cab := map[int]float64{}, map[int]float64{}, map[[2]int]float64{}
	for i := range a {
		ca[a[i]]++
		cb[b[i]]++
		cab[[2]int{a[i], b[i]}]++
	}
	if len(ca) == 1 && len(cb) == 1 {
		return 1
	}
	// Sums in sorted key order, so that the same labels give the same
	// bits (a resumed run recomputes them).
	h := func(c map[int]float64) float64 {
		var s float64
		for _, k := range slices.Sorted(maps.Keys(c)) {
			p := c[k] / n
			s -= p * math.Log(p)
		}
		return s
	}
	keys := slices.SortedFunc(maps.Keys(cab), func(x, y [2]int) int {
		if x[0] != y[0] {
			return x[0] - y[0]
		}
		return x[1] - y[1]
	})
	var mi float64
	for _, k := range keys {
		v := cab[k]
		mi += v / n * math.Log(v*n/(ca[k[0]]*cb[k[1]]))
	}
	ha, hb := h(ca), h(cb)
	if ha+hb == 0 {
		return 1
	}
	return max(mi, 0) / ((ha + hb) / 2)
}
