package dataset

import (
	"fmt"

	"argus/reid"
)

// ReIDFormats lists the re-ID layouts ReadReID knows.
var ReIDFormats = []string{"market1501", "dukemtmcreid", "msmt17"}

// ReadReID reads a re-ID dataset in one of ReIDFormats with the reid
// package's readers and returns its train, query and gallery splits.
// Training labels are the relabelled identities 0..n−1; query and gallery
// labels are the raw identities.
func ReadReID(format, root string) (train, query, gallery *Set, err error) {
	var d *reid.Dataset
	switch format {
	case "market1501":
		d, err = reid.ReadMarket1501(root)
	case "dukemtmcreid":
		d, err = reid.ReadDukeMTMC(root)
	case "msmt17":
		d, err = reid.ReadMSMT17(root)
	default:
		return nil, nil, nil, fmt.Errorf("unknown re-ID format %q (want market1501, dukemtmcreid or msmt17)", format)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	conv := func(name string, items []reid.Item) *Set {
		s := &Set{Name: d.Name + "/" + name, Items: make([]Item, len(items))}
		for i, it := range items {
			s.Items[i] = Item{Path: it.Path, Label: it.PID, Camera: it.CamID}
		}
		return s
	}
	return conv("train", d.Train), conv("query", d.Query), conv("gallery", d.Gallery), nil
}
