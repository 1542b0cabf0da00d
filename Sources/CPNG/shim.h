#ifndef NB_CPNG_SHIM_H
#define NB_CPNG_SHIM_H
#include <png.h>

/* Function-like / compound macros do not import into Swift; expose them. */
static inline png_uint_32 nb_png_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline png_uint_32 nb_png_image_version(void) { return PNG_IMAGE_VERSION; }
static inline int nb_png_image_failed(png_uint_32 warning_or_error) {
    return (warning_or_error & PNG_IMAGE_ERROR) != 0;
}
#endif
