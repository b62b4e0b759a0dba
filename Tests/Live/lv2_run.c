/*
 * Offline LV2 host for tools/plugin_check.py: runs an LV2 plugin (any with audio in/out, atom
 * and control ports, like JUCE's) over a mono float WAV in fixed blocks, both audio inputs fed
 * the same signal, and writes the first audio output. lv2apply (lilv-utils) refuses atom ports.
 *
 *   lv2_run PLUGIN_URI IN.wav OUT.wav BLOCK       (plugins from $LV2_PATH)
 */
#include <lilv/lilv.h>
#include <lv2/atom/atom.h>
#include <lv2/buf-size/buf-size.h>
#include <lv2/options/options.h>
#include <lv2/parameters/parameters.h>
#include <lv2/urid/urid.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *uris[256];
static int uri_count;

static LV2_URID map_uri(LV2_URID_Map_Handle h, const char *uri) {
    (void)h;
    for (int i = 0; i < uri_count; i++) if (!strcmp(uris[i], uri)) return (LV2_URID)(i + 1);
    if (uri_count == 256) return 0;
    uris[uri_count] = strdup(uri);
    return (LV2_URID)(++uri_count);
}

static const char *unmap_uri(LV2_URID_Unmap_Handle h, LV2_URID urid) {
    (void)h;
    return urid >= 1 && (int)urid <= uri_count ? uris[urid - 1] : NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: lv2_run PLUGIN_URI IN.wav OUT.wav BLOCK\n"); return 2; }
    const int block = atoi(argv[4]);
    SF_INFO info = {0};
    SNDFILE *in = sf_open(argv[2], SFM_READ, &info);
    if (!in || info.channels != 1) { fprintf(stderr, "lv2_run: %s: need a mono file\n", argv[2]); return 1; }
    float *x = malloc(sizeof(float) * (size_t)info.frames), *y = calloc((size_t)info.frames, sizeof(float));
    sf_readf_float(in, x, info.frames);
    sf_close(in);

    LilvWorld *world = lilv_world_new();
    lilv_world_load_all(world);
    LilvNode *uri = lilv_new_uri(world, argv[1]);
    const LilvPlugin *plugin = lilv_plugins_get_by_uri(lilv_world_get_all_plugins(world), uri);
    if (!plugin) { fprintf(stderr, "lv2_run: no plugin %s in LV2_PATH\n", argv[1]); return 1; }

    LV2_URID_Map map = {NULL, map_uri};
    LV2_URID_Unmap unmap = {NULL, unmap_uri};
    const int32_t min_block = 1, max_block = block;
    const float rate = (float)info.samplerate;
    LV2_Options_Option options[] = {
        {LV2_OPTIONS_INSTANCE, 0, map_uri(NULL, LV2_BUF_SIZE__minBlockLength), sizeof(int32_t), map_uri(NULL, LV2_ATOM__Int), &min_block},
        {LV2_OPTIONS_INSTANCE, 0, map_uri(NULL, LV2_BUF_SIZE__maxBlockLength), sizeof(int32_t), map_uri(NULL, LV2_ATOM__Int), &max_block},
        {LV2_OPTIONS_INSTANCE, 0, map_uri(NULL, LV2_PARAMETERS__sampleRate), sizeof(float), map_uri(NULL, LV2_ATOM__Float), &rate},
        {LV2_OPTIONS_INSTANCE, 0, 0, 0, 0, NULL}};
    LV2_Feature map_feature = {LV2_URID__map, &map}, unmap_feature = {LV2_URID__unmap, &unmap};
    LV2_Feature options_feature = {LV2_OPTIONS__options, options};
    LV2_Feature bounded = {LV2_BUF_SIZE__boundedBlockLength, NULL};
    const LV2_Feature *features[] = {&map_feature, &unmap_feature, &options_feature, &bounded, NULL};
    LilvInstance *instance = lilv_plugin_instantiate(plugin, info.samplerate, features);
    if (!instance) { fprintf(stderr, "lv2_run: instantiation failed\n"); return 1; }

    LilvNode *audio = lilv_new_uri(world, LV2_CORE__AudioPort), *atom = lilv_new_uri(world, LV2_ATOM__AtomPort);
    LilvNode *input = lilv_new_uri(world, LV2_CORE__InputPort), *control = lilv_new_uri(world, LV2_CORE__ControlPort);
    const uint32_t ports = lilv_plugin_get_num_ports(plugin);
    float *in_block = calloc((size_t)block, sizeof(float));
    float *scratch = calloc((size_t)block * ports, sizeof(float));
    float *controls = calloc(ports, sizeof(float));
    float *out_audio = NULL;
    const uint32_t atom_capacity = 65536;
    uint8_t *atom_buffers = calloc(ports, atom_capacity + sizeof(LV2_Atom_Sequence));
    LV2_Atom_Sequence **sequences = calloc(ports, sizeof *sequences);
    for (uint32_t p = 0; p < ports; p++) {
        const LilvPort *port = lilv_plugin_get_port_by_index(plugin, p);
        const int is_input = lilv_port_is_a(plugin, port, input);
        if (lilv_port_is_a(plugin, port, audio)) {
            if (is_input) lilv_instance_connect_port(instance, p, in_block);
            else {
                float *b = scratch + (size_t)p * block;
                if (!out_audio) out_audio = b;
                lilv_instance_connect_port(instance, p, b);
            }
        } else if (lilv_port_is_a(plugin, port, atom)) {
            sequences[p] = (LV2_Atom_Sequence *)(atom_buffers + (size_t)p * (atom_capacity + sizeof(LV2_Atom_Sequence)));
            lilv_instance_connect_port(instance, p, sequences[p]);
        } else if (lilv_port_is_a(plugin, port, control)) {
            LilvNode *def = NULL;
            lilv_port_get_range(plugin, port, &def, NULL, NULL);
            controls[p] = def ? lilv_node_as_float(def) : 0;
            lilv_instance_connect_port(instance, p, &controls[p]);
        } else {
            lilv_instance_connect_port(instance, p, NULL);
        }
    }
    lilv_instance_activate(instance);
    for (sf_count_t pos = 0; pos < info.frames; pos += block) {
        const int n = (int)(info.frames - pos < block ? info.frames - pos : block);
        memcpy(in_block, x + pos, (size_t)n * sizeof(float));
        for (uint32_t p = 0; p < ports; p++) {   // empty input sequences, output sequences with capacity
            if (!sequences[p]) continue;
            const LilvPort *port = lilv_plugin_get_port_by_index(plugin, p);
            sequences[p]->atom.type = map_uri(NULL, LV2_ATOM__Sequence);
            sequences[p]->atom.size = lilv_port_is_a(plugin, port, input) ? sizeof(LV2_Atom_Sequence_Body) : atom_capacity;
            sequences[p]->body.unit = 0;
        }
        lilv_instance_run(instance, (uint32_t)n);
        memcpy(y + pos, out_audio, (size_t)n * sizeof(float));
    }
    lilv_instance_deactivate(instance);
    uint32_t latency = 0;
    for (uint32_t p = 0; p < ports; p++) {
        const LilvPort *port = lilv_plugin_get_port_by_index(plugin, p);
        LilvNode *reports = lilv_new_uri(world, LV2_CORE__reportsLatency);
        if (lilv_port_has_property(plugin, port, reports)) latency = (uint32_t)controls[p];
        lilv_node_free(reports);
    }
    lilv_instance_free(instance);
    SF_INFO out_info = {.samplerate = info.samplerate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *out = sf_open(argv[3], SFM_WRITE, &out_info);
    if (!out) { fprintf(stderr, "lv2_run: %s: %s\n", argv[3], sf_strerror(NULL)); return 1; }
    sf_writef_float(out, y, info.frames);
    sf_close(out);
    printf("latency %u\n", latency);
    return 0;
}
