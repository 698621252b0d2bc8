package acr

import "github.com/acrgo/acr/internal/jsonread"

// Permissions are the lock flags ACR keeps on repositories, tags and
// manifests (its changeableAttributes). On a repository they apply to
// everything inside it.
type Permissions struct {
	// CanDelete is deleteEnabled: false refuses deleting the object.
	CanDelete bool
	// CanWrite is writeEnabled: false refuses overwriting, moving or
	// deleting the object.
	CanWrite bool
	// CanList is listEnabled: false hides the object from listings.
	CanList bool
	// CanRead is readEnabled: false refuses pulling the object.
	CanRead bool
}

// PermissionsUpdate changes some lock flags; nil fields stay as they are.
type PermissionsUpdate struct {
	CanDelete *bool
	CanWrite  *bool
	CanList   *bool
	CanRead   *bool
}

// Locked returns an update that sets CanWrite and CanDelete to false: the
// object can then be neither changed nor deleted.
func Locked() PermissionsUpdate {
	f := false
	return PermissionsUpdate{CanWrite: &f, CanDelete: &f}
}

// Unlocked returns an update that sets CanWrite and CanDelete to true,
// undoing Locked.
func Unlocked() PermissionsUpdate {
	t := true
	return PermissionsUpdate{CanWrite: &t, CanDelete: &t}
}

// wireAttributes is the changeableAttributes JSON shape.
type wireAttributes struct {
	DeleteEnabled *bool `json:"deleteEnabled,omitempty"`
	WriteEnabled  *bool `json:"writeEnabled,omitempty"`
	ListEnabled   *bool `json:"listEnabled,omitempty"`
	ReadEnabled   *bool `json:"readEnabled,omitempty"`
}

// permissions reads flags, treating absent ones as enabled (ACR's default).
func (w *wireAttributes) permissions() Permissions {
	if w == nil {
		return Permissions{true, true, true, true}
	}
	get := func(b *bool) bool { return b == nil || *b }
	return Permissions{CanDelete: get(w.DeleteEnabled), CanWrite: get(w.WriteEnabled), CanList: get(w.ListEnabled), CanRead: get(w.ReadEnabled)}
}

func (u PermissionsUpdate) wire() wireAttributes {
	return wireAttributes{DeleteEnabled: u.CanDelete, WriteEnabled: u.CanWrite, ListEnabled: u.CanList, ReadEnabled: u.CanRead}
}

// attributes is changeableAttributes as the listings' page decoders read
// it (without encoding/json): each flag unset (absent or null), true or
// false.
type attributes struct {
	deleteEnabled, writeEnabled, listEnabled, readEnabled flag
}

// flag is a lock flag as sent: 0 unset, 1 true, -1 false.
type flag int8

func (f *flag) read(r *jsonread.Reader) error {
	v, set, err := r.Bool()
	switch {
	case !set:
		*f = 0
	case v:
		*f = 1
	default:
		*f = -1
	}
	return err
}

var attributeFields = []string{"deleteEnabled", "writeEnabled", "listEnabled", "readEnabled"}

// read reads a changeableAttributes object; null unsets every flag, and a
// second object updates the first, as encoding/json decodes them.
func (a *attributes) read(r *jsonread.Reader) error {
	if null, err := r.Null(); null || err != nil {
		*a = attributes{}
		return err
	}
	return r.Object(func(key []byte) error {
		switch jsonread.Field(key, attributeFields) {
		case "deleteEnabled":
			return a.deleteEnabled.read(r)
		case "writeEnabled":
			return a.writeEnabled.read(r)
		case "listEnabled":
			return a.listEnabled.read(r)
		case "readEnabled":
			return a.readEnabled.read(r)
		}
		return r.Skip()
	})
}

// permissions treats unset flags as enabled (ACR's default).
func (a attributes) permissions() Permissions {
	return Permissions{CanDelete: a.deleteEnabled >= 0, CanWrite: a.writeEnabled >= 0, CanList: a.listEnabled >= 0, CanRead: a.readEnabled >= 0}
}
