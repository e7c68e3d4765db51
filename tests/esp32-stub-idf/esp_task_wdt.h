#pragma once
// Stand-in for the IDF header: only what mongoose.h's MG_ARCH_ESP32 section uses (declarations, no code).
#include <stdbool.h>
#include <stdint.h>
typedef int esp_err_t;
#define ESP_ERR_INVALID_STATE 0x103
typedef struct { uint32_t timeout_ms; uint32_t idle_core_mask; bool trigger_panic; } esp_task_wdt_config_t;
esp_err_t esp_task_wdt_init(const esp_task_wdt_config_t *config);
esp_err_t esp_task_wdt_reconfigure(const esp_task_wdt_config_t *config);
esp_err_t esp_task_wdt_add(void *task);
esp_err_t esp_task_wdt_reset(void);
esp_err_t esp_ota_mark_app_valid_cancel_rollback(void);
