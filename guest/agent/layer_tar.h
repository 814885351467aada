/* `berth-agent layer-tar [--exclude RELPATH]... DIR`: an OCI layer tar
 * stream of an overlayfs upper dir on stdout (layer_tar.c). */
#ifndef BERTH_LAYER_TAR_H
#define BERTH_LAYER_TAR_H

int layer_tar_main(int argc, char **argv);

#endif
