package dataset

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ReIDFormats lists the re-ID layouts ReadReID knows.
var ReIDFormats = []string{"market1501", "dukemtmcreid", "msmt17"}

// ReID is a re-ID benchmark as torchreid's dataset classes read it. An
// item's Label is its identity: the raw identity in Query and Gallery (0
// marks Market-1501's distractors), 0..NumTrainPIDs−1 after relabelling in
// Train; its Camera counts from 0.
type ReID struct {
	Name                  string
	Train, Query, Gallery *Set
	// NumTrainPIDs is the number of training identities (labels
	// 0..NumTrainPIDs−1).
	NumTrainPIDs int
}

// ReadReID reads a re-ID dataset under root in one of ReIDFormats.
func ReadReID(format, root string) (*ReID, error) {
	switch format {
	case "market1501":
		return ReadMarket1501(root)
	case "dukemtmcreid":
		return ReadDukeMTMC(root)
	case "msmt17":
		return ReadMSMT17(root)
	}
	return nil, fmt.Errorf("unknown re-ID format %q (want market1501, dukemtmcreid or msmt17)", format)
}

// newReID names the splits of a re-ID dataset after it.
func newReID(name string, train, query, gallery []Item, numTrainPIDs int) *ReID {
	split := func(s string, items []Item) *Set { return &Set{Name: name + "/" + s, Items: items} }
	return &ReID{Name: name, Train: split("train", train), Query: split("query", query),
		Gallery: split("gallery", gallery), NumTrainPIDs: numTrainPIDs}
}

// marketPattern is torchreid's pattern for Market-1501 and DukeMTMC-reID
// file names such as 0002_c1s1_000451_03.jpg or -1_c3s2_000126_02.jpg.
var marketPattern = regexp.MustCompile(`([-\d]+)_c(\d)`)

// ParseMarketName returns the pid and the 1-based camera of a Market-1501
// or DukeMTMC-reID image file name. The pid is -1 for junk images.
func ParseMarketName(name string) (pid, cam int, err error) {
	m := marketPattern.FindStringSubmatch(name)
	if m == nil {
		return 0, 0, fmt.Errorf("file name %q does not look like PID_cC...", name)
	}
	pid, err = strconv.Atoi(m[1])
	if err != nil || pid < -1 {
		return 0, 0, fmt.Errorf("file name %q: bad pid %q", name, m[1])
	}
	cam, _ = strconv.Atoi(m[2])
	return pid, cam, nil
}

// marketLayout describes a Market-style folder dataset.
type marketLayout struct {
	name                  string
	train, query, gallery string
	maxPID, maxCam        int
}

var (
	market = marketLayout{"market1501", "bounding_box_train", "query", "bounding_box_test", 1501, 6}
	duke   = marketLayout{"dukemtmcreid", "bounding_box_train", "query", "bounding_box_test", -1, 8}
)

// ReadMarket1501 reads the Market-1501 layout under root (the folder with
// bounding_box_train, query and bounding_box_test). As in torchreid, junk
// images (pid -1) are dropped, distractors (pid 0) stay in the gallery,
// training pids are relabelled to 0..n-1 in ascending order, and cameras
// 1..6 become 0..5. A pid outside 0..1501 or a camera outside 1..6 is an
// error.
func ReadMarket1501(root string) (*ReID, error) { return readMarketFolders(root, market) }

// ReadDukeMTMC reads the DukeMTMC-reID layout under root, like
// ReadMarket1501 with cameras 1..8.
func ReadDukeMTMC(root string) (*ReID, error) { return readMarketFolders(root, duke) }

func readMarketFolders(root string, l marketLayout) (*ReID, error) {
	train, err := readMarketFolder(filepath.Join(root, l.train), l)
	if err != nil {
		return nil, err
	}
	query, err := readMarketFolder(filepath.Join(root, l.query), l)
	if err != nil {
		return nil, err
	}
	gallery, err := readMarketFolder(filepath.Join(root, l.gallery), l)
	if err != nil {
		return nil, err
	}
	return newReID(l.name, train, query, gallery, relabel(train)), nil
}

// readMarketFolder lists the .jpg images of dir in name order.
func readMarketFolder(dir string, l marketLayout) ([]Item, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s dataset: %w", l.name, err)
	}
	var items []Item
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.EqualFold(filepath.Ext(name), ".jpg") {
			continue
		}
		pid, cam, err := ParseMarketName(name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", dir, err)
		}
		if pid == -1 {
			continue // junk
		}
		if l.maxPID >= 0 && pid > l.maxPID {
			return nil, fmt.Errorf("read %s: %s: pid %d outside 0..%d", dir, name, pid, l.maxPID)
		}
		if cam < 1 || cam > l.maxCam {
			return nil, fmt.Errorf("read %s: %s: camera %d outside 1..%d", dir, name, cam, l.maxCam)
		}
		items = append(items, Item{Path: filepath.Join(dir, name), Label: pid, Camera: cam - 1})
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("read %s: no images", dir)
	}
	return items, nil
}

// relabel maps the items' pids to 0..n-1 in ascending order of pid and
// returns n.
func relabel(items []Item) int {
	var pids []int
	for _, it := range items {
		pids = append(pids, it.Label)
	}
	slices.Sort(pids)
	pids = slices.Compact(pids)
	for i := range items {
		items[i].Label, _ = slices.BinarySearch(pids, items[i].Label)
	}
	return len(pids)
}

// ReadMSMT17 reads the MSMT17 layout under root as torchreid does: train/
// and test/ image folders with list_train.txt, list_query.txt and
// list_gallery.txt, each line "relative/path.jpg pid". The camera is the
// third '_'-separated field of the path (1..15, made 0-based); pids are
// used as listed (they are already 0..n-1 per split). list_val.txt is not
// added to the training set, following the conventional protocol.
func ReadMSMT17(root string) (*ReID, error) {
	train, err := readMSMTList(filepath.Join(root, "list_train.txt"), filepath.Join(root, "train"))
	if err != nil {
		return nil, err
	}
	query, err := readMSMTList(filepath.Join(root, "list_query.txt"), filepath.Join(root, "test"))
	if err != nil {
		return nil, err
	}
	gallery, err := readMSMTList(filepath.Join(root, "list_gallery.txt"), filepath.Join(root, "test"))
	if err != nil {
		return nil, err
	}
	pids := map[int]bool{}
	for _, it := range train {
		pids[it.Label] = true
	}
	return newReID("msmt17", train, query, gallery, len(pids)), nil
}

func readMSMTList(list, dir string) ([]Item, error) {
	f, err := os.Open(list)
	if err != nil {
		return nil, fmt.Errorf("read msmt17 dataset: %w", err)
	}
	defer f.Close()
	var items []Item
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		path, pid, cam, err := ParseMSMTLine(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", list, line, err)
		}
		items = append(items, Item{Path: filepath.Join(dir, path), Label: pid, Camera: cam - 1})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", list, err)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("read %s: no images", list)
	}
	return items, nil
}

// ParseMSMTLine parses one line of an MSMT17 list file, such as
// "0000/0000_000_01_0303morning_0015_0.jpg 0", into the relative path, the
// pid and the 1-based camera.
func ParseMSMTLine(line string) (path string, pid, cam int, err error) {
	fields := strings.Fields(line)
	if len(fields) != 2 {
		return "", 0, 0, fmt.Errorf("line %q: want \"path pid\"", line)
	}
	path = fields[0]
	pid, err = strconv.Atoi(fields[1])
	if err != nil || pid < 0 {
		return "", 0, 0, fmt.Errorf("line %q: bad pid %q", line, fields[1])
	}
	parts := strings.Split(path, "_")
	if len(parts) < 3 {
		return "", 0, 0, fmt.Errorf("line %q: no camera field in %q", line, path)
	}
	cam, err = strconv.Atoi(parts[2])
	if err != nil || cam < 1 || cam > 15 {
		return "", 0, 0, fmt.Errorf("line %q: camera %q outside 1..15", line, parts[2])
	}
	if filepath.IsAbs(path) || slices.Contains(strings.Split(filepath.ToSlash(path), "/"), "..") {
		return "", 0, 0, fmt.Errorf("line %q: path leaves the image folder", line)
	}
	return path, pid, cam, nil
}
