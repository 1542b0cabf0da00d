#include "cjpegturbo.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

/* Progressive files with absurd scan counts are a known CPU-exhaustion vector. */
#define NB_JPEG_MAX_SCANS 500

struct nb_error_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *errbuf;
    size_t errlen;
};

struct nb_progress_mgr {
    struct jpeg_progress_mgr pub;
    struct nb_error_mgr *err;
};

static void nb_set_error(char *errbuf, size_t errlen, const char *msg) {
    if (errbuf != NULL && errlen > 0) {
        snprintf(errbuf, errlen, "%s", msg);
    }
}

/* Replaces libjpeg's exit()-ing handler: record the message and unwind to setjmp. */
static void nb_error_exit(j_common_ptr cinfo) {
    struct nb_error_mgr *err = (struct nb_error_mgr *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, msg);
    nb_set_error(err->errbuf, err->errlen, msg);
    longjmp(err->jump, 1);
}

/* Warnings that mean the entropy-coded data is damaged or truncated are fatal, so a
   half-downloaded file is reported instead of silently padded with grey. Benign
   warnings (extraneous bytes, unknown JFIF revision, bad ICC marker, ...) are ignored. */
static void nb_emit_message(j_common_ptr cinfo, int msg_level) {
    if (msg_level >= 0) {
        return;
    }
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
        nb_error_exit(cinfo);
        break;
    default:
        cinfo->err->num_warnings++;
        break;
    }
}

static void nb_output_message(j_common_ptr cinfo) {
    (void)cinfo; /* never print to stderr */
}

static void nb_progress(j_common_ptr cinfo) {
    struct nb_progress_mgr *prog = (struct nb_progress_mgr *)cinfo->progress;
    if (cinfo->is_decompressor) {
        j_decompress_ptr d = (j_decompress_ptr)cinfo;
        if (d->input_scan_number > NB_JPEG_MAX_SCANS) {
            nb_set_error(prog->err->errbuf, prog->err->errlen, "too many progressive scans");
            longjmp(prog->err->jump, 1);
        }
    }
}

static void nb_init_error(struct nb_error_mgr *err, char *errbuf, size_t errlen) {
    jpeg_std_error(&err->pub);
    err->pub.error_exit = nb_error_exit;
    err->pub.emit_message = nb_emit_message;
    err->pub.output_message = nb_output_message;
    err->errbuf = errbuf;
    err->errlen = errlen;
    if (errbuf != NULL && errlen > 0) {
        errbuf[0] = '\0';
    }
}

int nb_jpeg_read_header(const unsigned char *data, size_t len, int *w, int *h,
                        char *errbuf, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct nb_error_mgr jerr;
    *w = 0;
    *h = 0;
    if (data == NULL || len < 4) {
        nb_set_error(errbuf, errlen, "input too short");
        return NB_JPEG_ERR_CORRUPT;
    }
    nb_init_error(&jerr, errbuf, errlen);
    cinfo.err = &jerr.pub;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return NB_JPEG_ERR_CORRUPT;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    *w = (int)cinfo.image_width;
    *h = (int)cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return NB_JPEG_OK;
}

/* Converts CMYK samples (in place, 4 bytes per pixel) to RGBA. Adobe-written files
   store inverted CMYK, which is by far the common case. */
static void nb_cmyk_to_rgba(unsigned char *buf, size_t pixels, int inverted) {
    for (size_t i = 0; i < pixels; i++) {
        unsigned char *p = buf + i * 4;
        unsigned c = p[0], m = p[1], y = p[2], k = p[3];
        if (!inverted) {
            c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k;
        }
        p[0] = (unsigned char)((c * k + 127) / 255);
        p[1] = (unsigned char)((m * k + 127) / 255);
        p[2] = (unsigned char)((y * k + 127) / 255);
        p[3] = 255;
    }
}

int nb_jpeg_decode(const unsigned char *data, size_t len, int scale_denom, unsigned char **out_rgba,
                   int *w, int *h, char *errbuf, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct nb_error_mgr jerr;
    struct nb_progress_mgr progress;
    unsigned char *volatile buf = NULL;

    *out_rgba = NULL;
    *w = 0;
    *h = 0;
    if (data == NULL || len < 4) {
        nb_set_error(errbuf, errlen, "input too short");
        return NB_JPEG_ERR_CORRUPT;
    }
    nb_init_error(&jerr, errbuf, errlen);
    cinfo.err = &jerr.pub;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        return NB_JPEG_ERR_CORRUPT;
    }
    jpeg_create_decompress(&cinfo);
    progress.pub.progress_monitor = nb_progress;
    progress.err = &jerr;
    cinfo.progress = &progress.pub;
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);

    if (cinfo.image_width == 0 || cinfo.image_height == 0 ||
        cinfo.image_width > NB_JPEG_MAX_SIDE || cinfo.image_height > NB_JPEG_MAX_SIDE) {
        char msg[96];
        snprintf(msg, sizeof msg, "dimensions %ux%u exceed limit %d",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, NB_JPEG_MAX_SIDE);
        nb_set_error(errbuf, errlen, msg);
        *w = (int)cinfo.image_width;
        *h = (int)cinfo.image_height;
        jpeg_destroy_decompress(&cinfo);
        return NB_JPEG_ERR_TOO_LARGE;
    }

    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_EXT_RGBA;
    cinfo.scale_num = 1;
    cinfo.scale_denom = (scale_denom == 2 || scale_denom == 4 || scale_denom == 8) ? (unsigned)scale_denom : 1;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 4) {
        nb_set_error(errbuf, errlen, "unexpected output component count");
        jpeg_destroy_decompress(&cinfo);
        return NB_JPEG_ERR_CORRUPT;
    }

    size_t width = cinfo.output_width, height = cinfo.output_height;
    size_t stride = width * 4;
    buf = (unsigned char *)malloc(stride * height);
    if (buf == NULL) {
        nb_set_error(errbuf, errlen, "out of memory");
        jpeg_destroy_decompress(&cinfo);
        return NB_JPEG_ERR_NOMEM;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buf + (size_t)cinfo.output_scanline * stride;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            nb_set_error(errbuf, errlen, "decoder stalled");
            jpeg_destroy_decompress(&cinfo);
            free(buf);
            return NB_JPEG_ERR_CORRUPT;
        }
    }
    if (cmyk) {
        nb_cmyk_to_rgba(buf, width * height, cinfo.saw_Adobe_marker);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *out_rgba = buf;
    *w = (int)width;
    *h = (int)height;
    return NB_JPEG_OK;
}

int nb_jpeg_encode_rgba(const unsigned char *rgba, int w, int h, int quality,
                        unsigned char **out, unsigned long *outlen,
                        char *errbuf, size_t errlen) {
    struct jpeg_compress_struct cinfo;
    struct nb_error_mgr jerr;
    unsigned char *volatile owned = NULL;

    *out = NULL;
    *outlen = 0;
    if (rgba == NULL || w <= 0 || h <= 0 || w > 65500 || h > 65500) {
        nb_set_error(errbuf, errlen, "invalid dimensions");
        return NB_JPEG_ERR_CORRUPT;
    }
    /* Pre-size the destination with TurboJPEG's worst-case bound (~6 bytes/pixel for
       4:4:4) so jpeg_mem_dest never reallocates: we then own the only buffer and can
       free it safely after a longjmp. Untouched pages of a large malloc stay virtual. */
    size_t pw = ((size_t)w + 15) & ~(size_t)15, ph = ((size_t)h + 15) & ~(size_t)15;
    size_t cap = pw * ph * 6 + 4096;
    owned = (unsigned char *)malloc(cap);
    if (owned == NULL) {
        nb_set_error(errbuf, errlen, "out of memory");
        return NB_JPEG_ERR_NOMEM;
    }
    *out = owned;
    *outlen = (unsigned long)cap;

    nb_init_error(&jerr, errbuf, errlen);
    cinfo.err = &jerr.pub;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(owned);
        *out = NULL;
        *outlen = 0;
        return NB_JPEG_ERR_CORRUPT;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, out, outlen);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 4;
    cinfo.in_color_space = JCS_EXT_RGBA;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    cinfo.optimize_coding = TRUE;
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)w * 4;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgba + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    if (*out != owned) {
        free(owned); /* unreachable in practice: libjpeg grew past the worst-case bound */
    }
    return NB_JPEG_OK;
}

void nb_free(void *p) {
    free(p);
}
