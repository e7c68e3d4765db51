// Sizes in the system mbedTLS's configuration that explain bench/tls_ram.py's figures: the
// SSLContext object of MicroPython's tls module embeds the entropy, DRBG and config structs (GC
// heap); the record buffers of each connection are allocated by mbedTLS (C heap).
#include <stdio.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>

int main(void) {
    printf("entropy_context %zu\n", sizeof(mbedtls_entropy_context));
    printf("ctr_drbg_context %zu\n", sizeof(mbedtls_ctr_drbg_context));
    printf("ssl_config %zu\n", sizeof(mbedtls_ssl_config));
    printf("ssl_context %zu\n", sizeof(mbedtls_ssl_context));
    printf("in_content_len %d\n", (int)MBEDTLS_SSL_IN_CONTENT_LEN);
    printf("out_content_len %d\n", (int)MBEDTLS_SSL_OUT_CONTENT_LEN);
#ifdef MBEDTLS_HAVEGE_C
    printf("havege 1\n");
#else
    printf("havege 0\n");
#endif
    return 0;
}
