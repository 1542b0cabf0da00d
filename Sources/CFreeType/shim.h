#ifndef NB_CFREETYPE_SHIM_H
#define NB_CFREETYPE_SHIM_H
#include <ft2build.h>
#include FT_FREETYPE_H

/* Flag / function-like macros that may not import into Swift. */
static inline FT_Int32 nb_ft_load_render(void) { return FT_LOAD_RENDER; }
static inline FT_Int32 nb_ft_load_default(void) { return FT_LOAD_DEFAULT; }
static inline int nb_ft_has_kerning(FT_Face face) { return FT_HAS_KERNING(face) ? 1 : 0; }
#endif
