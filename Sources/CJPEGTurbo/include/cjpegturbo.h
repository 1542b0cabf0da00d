#ifndef NB_CJPEGTURBO_H
#define NB_CJPEGTURBO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Largest width or height (in pixels) the decoder accepts. Larger images are refused
/// after reading the header and before any pixel buffer is allocated.
#define NB_JPEG_MAX_SIDE 16384

/// Status codes returned by the functions below.
#define NB_JPEG_OK 0
#define NB_JPEG_ERR_CORRUPT (-1)
#define NB_JPEG_ERR_TOO_LARGE (-2)
#define NB_JPEG_ERR_NOMEM (-3)

/// Reads only the JPEG header (setjmp-guarded). Returns NB_JPEG_OK and sets *w/*h.
int nb_jpeg_read_header(const unsigned char *data, size_t len, int *w, int *h,
                        char *errbuf, size_t errlen);

/// Decodes any JPEG (RGB, grayscale, CMYK/YCCK) to 8-bit RGBA (alpha = 255).
/// On success returns 0 and *out_rgba must be released with nb_free.
/// On failure returns a negative NB_JPEG_ERR_* code and writes a message into errbuf.
/// `scale_denom` (1, 2, 4 or 8) decodes at that fraction of each side, inside the IDCT:
/// a large JPEG never has its full-size pixels in memory. *w/*h are the decoded size.
int nb_jpeg_decode(const unsigned char *data, size_t len, int scale_denom, unsigned char **out_rgba,
                   int *w, int *h, char *errbuf, size_t errlen);

/// Encodes 8-bit RGBA (alpha ignored) as baseline JPEG using jpeg_mem_dest.
/// On success returns 0 and *out (length *outlen) must be released with nb_free.
int nb_jpeg_encode_rgba(const unsigned char *rgba, int w, int h, int quality,
                        unsigned char **out, unsigned long *outlen,
                        char *errbuf, size_t errlen);

/// Frees memory returned by this module.
void nb_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
