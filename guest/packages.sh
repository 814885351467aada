# Debian i386 packages that make up the guest userland (sourced by the build scripts).
# crun's runtime dependencies are listed explicitly so the closure is fetched in one go.
GUEST_PACKAGES=(
  busybox-static crun
  libc6 libcap2 libseccomp2 libsystemd0 libyajl2
  libgcrypt20 liblzma5 libzstd1 liblz4-1 libgpg-error0
)
