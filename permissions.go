package acr

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
