/*
 * test_hub_key.c - cmocka tests for lib/hub_key: the hub key as users paste it. The hex form weft
 * prints and the old Z85 form give the same 32 bytes; the hex form holds no shell metacharacter;
 * junk (wrong length, a non-hex or non-Z85 character, white space, NULL) gets a clear error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <string.h>
#include <zmq.h>

#include "config_check.h"
#include "hub_key.h"

// A Z85 key full of what breaks an unquoted shell word (the kind the issue saw), and its bytes.
static void shell_unsafe_key(uint8_t key[32], char z85[41])
{
    for (int attempt = 0;; attempt++) {
        for (int i = 0; i < 32; i++)
            key[i] = (uint8_t)(i * 37 + attempt * 101 + 5);
        zmq_z85_encode(z85, key, 32);
        if (strpbrk(z85, "<>{}*^&$") || attempt > 1000)
            return;
    }
}

static void test_hex_and_z85_are_the_same_key(void **state)
{
    (void)state;
    uint8_t key[32], parsed[32];
    char z85[41], hex[HUB_KEY_HEX_LEN], why[256] = "";
    shell_unsafe_key(key, z85);
    assert_non_null(strpbrk(z85, "<>{}*^&$"));
    hub_key_format(key, hex);
    assert_int_equal(strlen(hex), 64);
    for (int i = 0; i < 64; i++)
        assert_true(isxdigit((unsigned char)hex[i]) && !isupper((unsigned char)hex[i]));
    assert_int_equal(hub_key_parse(hex, parsed, why, sizeof why), 0);
    assert_memory_equal(parsed, key, 32);
    memset(parsed, 0, sizeof parsed);
    assert_int_equal(hub_key_parse(z85, parsed, why, sizeof why), 0);  // the old form is still read
    assert_memory_equal(parsed, key, 32);
    char upper[HUB_KEY_HEX_LEN], normal[HUB_KEY_HEX_LEN];
    for (int i = 0; i <= 64; i++)
        upper[i] = (char)toupper((unsigned char)hex[i]);
    assert_int_equal(hub_key_normalise(upper, normal, why, sizeof why), 0);
    assert_string_equal(normal, hex);
    assert_int_equal(hub_key_normalise(z85, normal, why, sizeof why), 0);
    assert_string_equal(normal, hex);
    assert_int_equal(config_check_curve_key(hex, why, sizeof why), 0);
    assert_int_equal(config_check_curve_key(z85, why, sizeof why), 0);
    assert_int_equal(config_check_curve_key("", why, sizeof why), 0);
}

static void test_junk_is_refused_clearly(void **state)
{
    (void)state;
    uint8_t key[32];
    char why[256], hex[HUB_KEY_HEX_LEN];
    memset(key, 0xab, sizeof key);
    hub_key_format(key, hex);

    hex[10] = 'g';  // one character that is not hex
    assert_int_equal(hub_key_parse(hex, key, why, sizeof why), -1);
    assert_non_null(strstr(why, "not hex at position 11"));
    assert_int_equal(config_check_curve_key(hex, why, sizeof why), -1);

    hex[10] = 'a';
    hex[63] = '\0';  // one short
    assert_int_equal(hub_key_parse(hex, key, why, sizeof why), -1);
    assert_non_null(strstr(why, "64 hex characters"));
    assert_non_null(strstr(why, "got 63 characters"));

    assert_int_equal(hub_key_parse("abcd efgh", key, why, sizeof why), -1);
    assert_non_null(strstr(why, "white space"));
    assert_int_equal(hub_key_parse(NULL, key, why, sizeof why), -1);
    assert_non_null(strstr(why, "got 0 characters"));
    assert_int_equal(hub_key_parse("", key, why, sizeof why), -1);

    // 40 characters, one outside the Z85 alphabet (a quote, as a shell paste might leave)
    char z85[41];
    uint8_t bytes[32] = {1, 2, 3};
    zmq_z85_encode(z85, bytes, 32);
    z85[39] = '"';
    assert_int_equal(hub_key_parse(z85, key, why, sizeof why), -1);
    assert_non_null(strstr(why, "not a Z85 key (character 40)"));
    // 40 characters of the alphabet whose value overflows a Z85 group
    assert_int_equal(hub_key_parse("########################################", key, why, sizeof why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_and_z85_are_the_same_key),
        cmocka_unit_test(test_junk_is_refused_clearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
