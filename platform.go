package acr

// Architectures and operating systems that ACR reports for images and the
// children of indexes (ManifestProperties.Architecture and OS, Platform),
// as both official SDKs name them; ACR may report others, and "unknown"
// for artifacts that are not images.
const (
	Arch386      = "386"
	ArchAMD64    = "amd64"
	ArchARM      = "arm"
	ArchARM64    = "arm64"
	ArchMIPS     = "mips"
	ArchMIPSLE   = "mipsle"
	ArchMIPS64   = "mips64"
	ArchMIPS64LE = "mips64le"
	ArchPPC64    = "ppc64"
	ArchPPC64LE  = "ppc64le"
	ArchRISCV64  = "riscv64"
	ArchS390X    = "s390x"
	ArchWasm     = "wasm"

	OSAIX       = "aix"
	OSAndroid   = "android"
	OSDarwin    = "darwin"
	OSDragonfly = "dragonfly"
	OSFreeBSD   = "freebsd"
	OSIllumos   = "illumos"
	OSIOS       = "ios"
	OSJS        = "js"
	OSLinux     = "linux"
	OSNetBSD    = "netbsd"
	OSOpenBSD   = "openbsd"
	OSPlan9     = "plan9"
	OSSolaris   = "solaris"
	OSWindows   = "windows"

	// PlatformUnknown is what ACR reports for the architecture and OS of an
	// artifact that is not an image.
	PlatformUnknown = "unknown"
)
