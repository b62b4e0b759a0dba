#include "PluginProcessor.h"
#include "PluginEditor.h"
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>

namespace {
juce::AudioProcessorValueTreeState::ParameterLayout makeLayout() {
    juce::AudioProcessorValueTreeState::ParameterLayout layout;
    for (int i = 0; i < TMRVC_PARAM_COUNT; ++i) {
        float lo = 0, hi = 1, def = 0;
        const char* name = nullptr;
        tmrvc_parameter_info(static_cast<tmrvc_parameter>(i), &lo, &hi, &def, &name);
        if (i == TMRVC_PARAM_REGISTER_MODE) {
            layout.add(std::make_unique<juce::AudioParameterChoice>(juce::ParameterID { name, 1 }, name,
                                                                    juce::StringArray { "auto", "shift" }, 0));
        } else {
            layout.add(std::make_unique<juce::AudioParameterFloat>(
                juce::ParameterID { name, 1 }, name, juce::NormalisableRange<float>(lo, hi), def,
                juce::AudioParameterFloatAttributes().withStringFromValueFunction([](float v, int) { return juce::String(v, 2); })));
        }
    }
    layout.add(std::make_unique<juce::AudioParameterBool>(juce::ParameterID { "bypass", 1 }, "bypass", false));
    // A fixed range (hosts need one): bundled speakers first, then the user's folder; an index
    // past the list keeps the current speaker.
    layout.add(std::make_unique<juce::AudioParameterInt>(juce::ParameterID { "speaker", 1 }, "speaker", 0, 63, 0));
    return layout;
}

/// The file this code was loaded from (the plugin's .so, or the Standalone executable).
juce::File thisBinary() {
    Dl_info info {};
    if (dladdr(reinterpret_cast<const void*>(&thisBinary), &info) != 0 && info.dli_fname != nullptr)
        return juce::File(juce::String(info.dli_fname));
    return juce::File::getSpecialLocation(juce::File::currentExecutableFile);
}

/// The engine's name for parameter `i` (the C API's table is the one source of names and ranges).
const char* parameterId(int i) {
    const char* name = nullptr;
    tmrvc_parameter_info(static_cast<tmrvc_parameter>(i), nullptr, nullptr, nullptr, &name);
    return name;
}
}

TMRVCProcessor::TMRVCProcessor()
    : AudioProcessor(BusesProperties()
                         .withInput("Input", juce::AudioChannelSet::stereo(), true)
                         .withOutput("Output", juce::AudioChannelSet::stereo(), true)),
      parameters(*this, nullptr, "TMRVC", makeLayout()) {
    const auto models = resourceDirectory();
    char error[512] = "";
    // int8 weights, as `tmrvc live`: a hop costs about a third of fp32's at the same measured quality,
    // which leaves the host's audio thread room on a loaded machine (docs/design/host-integration.md).
    if (tmrvc_create(models.getFullPathName().toRawUTF8(), TMRVC_CREATE_INT8, &engine, error, sizeof error) != TMRVC_OK)
        setStatus(juce::String("models: ") + juce::String(error));
    for (auto folder : { models.getChildFile("speakers"),
                         juce::File::getSpecialLocation(juce::File::userHomeDirectory).getChildFile(".config/tmrvc/speakers") }) {
        auto found = folder.findChildFiles(juce::File::findFiles, false, "*.tmrvc_speaker");
        found.sort();
        speakers.addArray(found);
    }
    for (int i = 0; i < TMRVC_PARAM_COUNT; ++i) parameters.addParameterListener(parameterId(i), this);
    parameters.addParameterListener("bypass", this);
    parameters.addParameterListener("speaker", this);
    pushParameters();
    // The first speaker synchronously: a host that never opens the editor converts from the first block.
    if (!speakers.isEmpty()) {
        juce::MemoryBlock bytes;
        speakers[0].loadFileAsData(bytes);
        postSpeakerBytes(bytes, speakers[0].getFileNameWithoutExtension());
        lastSpeakerIndex = 0;
    } else if (engine != nullptr) {
        setStatus("no speaker files in " + models.getChildFile("speakers").getFullPathName());
    }
    startTimerHz(10);
}

TMRVCProcessor::~TMRVCProcessor() {
    stopTimer();
    loader.removeAllJobs(true, 10000);
    tmrvc_destroy(engine);
}

juce::File TMRVCProcessor::resourceDirectory() const { return thisBinary().getParentDirectory().getChildFile("tmrvc"); }

bool TMRVCProcessor::isBusesLayoutSupported(const BusesLayout& layouts) const {
    const auto in = layouts.getMainInputChannelSet(), out = layouts.getMainOutputChannelSet();
    return (out == juce::AudioChannelSet::mono() || out == juce::AudioChannelSet::stereo())
        && (in == juce::AudioChannelSet::mono() || in == juce::AudioChannelSet::stereo());
}

void TMRVCProcessor::prepareToPlay(double sampleRate, int samplesPerBlock) {
    if (trace)   // host diagnostics on stderr
        std::fprintf(stderr, "tmrvc plugin: prepareToPlay(%.1f Hz, %d frames), %d in / %d out channels, %s\n", sampleRate, samplesPerBlock,
                     getTotalNumInputChannels(), getTotalNumOutputChannels(), getWrapperTypeDescription(wrapperType));
    prepared = false;
    preparedRate = sampleRate;
    if (engine == nullptr) return;
    const auto block = static_cast<uint32_t>(juce::jmax(1, samplesPerBlock));
    mono.assign(block, 0.0f);
    const auto status = tmrvc_prepare(engine, static_cast<uint32_t>(sampleRate + 0.5), block, 1);
    if (status != TMRVC_OK) {
        char message[512] = "";
        tmrvc_last_error(engine, message, sizeof message);
        setStatus(juce::String(message) + juce::String(" - passing the input through unchanged"));
        setLatencySamples(0);
        return;
    }
    pushParameters();
    lastReportedLatency = static_cast<int>(tmrvc_latency_samples(engine));
    setLatencySamples(lastReportedLatency);
    prepared = true;
    setStatus({});
}

void TMRVCProcessor::processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer&) {
    juce::ScopedNoDenormals noDenormals;
    const int numIn = getTotalNumInputChannels(), numOut = getTotalNumOutputChannels(), n = buffer.getNumSamples();
    for (int c = numIn; c < numOut; ++c) buffer.copyFrom(c, 0, buffer, 0, 0, n);   // mono input: duplicate first
    if (!prepared.load() || n == 0) return;   // unsupported rate: the input passes through
    const int capacity = static_cast<int>(mono.size());
    float inPeak = 0, outPeak = 0;
    for (int start = 0; start < n; start += capacity) {
        const int m = juce::jmin(capacity, n - start);
        const float scale = 1.0f / static_cast<float>(juce::jmax(1, numIn));
        juce::FloatVectorOperations::copy(mono.data(), buffer.getReadPointer(0, start), m);
        for (int c = 1; c < numIn; ++c) juce::FloatVectorOperations::add(mono.data(), buffer.getReadPointer(c, start), m);
        if (numIn > 1) juce::FloatVectorOperations::multiply(mono.data(), scale, m);
        for (int i = 0; i < m; ++i) inPeak = juce::jmax(inPeak, std::abs(mono[static_cast<size_t>(i)]));
        const float* in[1] = { mono.data() };
        float* out[1] = { mono.data() };
        tmrvc_process(engine, in, out, static_cast<uint32_t>(m));
        for (int i = 0; i < m; ++i) outPeak = juce::jmax(outPeak, std::abs(mono[static_cast<size_t>(i)]));
        for (int c = 0; c < numOut; ++c) buffer.copyFrom(c, start, mono.data(), m);
    }
    inputPeak = juce::jmax(inPeak, inputPeak.load() * 0.9f);
    outputPeak = juce::jmax(outPeak, outputPeak.load() * 0.9f);
}

void TMRVCProcessor::pushParameters() {
    if (engine == nullptr) return;
    const bool bypassed = parameters.getRawParameterValue("bypass")->load() > 0.5f;
    for (int i = 0; i < TMRVC_PARAM_COUNT; ++i) {
        float v = parameters.getRawParameterValue(parameterId(i))->load();
        if (i == TMRVC_PARAM_DRY_WET && bypassed) v = 0;   // bypass = dry, still latency-aligned and smooth
        tmrvc_set_parameter(engine, static_cast<tmrvc_parameter>(i), v);
    }
}

void TMRVCProcessor::parameterChanged(const juce::String& id, float value) {
    if (trace)   // host diagnostics (TMRVC_PLUGIN_TRACE; stdio is not real-time safe: never in production)
        std::fprintf(stderr, "tmrvc plugin: %s = %g\n", id.toRawUTF8(), static_cast<double>(value));
    if (id == "speaker") {
        const int index = juce::roundToInt(value);
        if (index != lastSpeakerIndex.load() && index < speakers.size()) {
            lastSpeakerIndex = index;
            loadSpeakerFile(speakers[index]);
        }
        return;
    }
    pushParameters();   // tmrvc_set_parameter is real-time safe: any thread, the audio thread included
}

void TMRVCProcessor::timerCallback() {
    if (engine == nullptr || !prepared.load()) return;
    const int latency = static_cast<int>(tmrvc_latency_samples(engine));
    if (latency != lastReportedLatency) {   // q changed (by the user or the overload control)
        lastReportedLatency = latency;
        setLatencySamples(latency);
    }
}

void TMRVCProcessor::loadSpeakerFile(const juce::File& file) {
    loader.addJob([this, file] {
        juce::MemoryBlock bytes;
        if (!file.loadFileAsData(bytes)) {
            setStatus("cannot read " + file.getFullPathName());
            return;
        }
        postSpeakerBytes(bytes, file.getFileNameWithoutExtension());
    });
}

void TMRVCProcessor::postSpeakerBytes(juce::MemoryBlock bytes, juce::String name) {
    if (engine == nullptr) return;
    if (tmrvc_load_speaker_memory(engine, bytes.getData(), bytes.getSize()) != TMRVC_OK) {
        char message[512] = "";
        tmrvc_last_error(engine, message, sizeof message);
        setStatus(name + ": " + juce::String(message));
        return;
    }
    std::lock_guard<std::mutex> lock(stateLock);
    speakerBytes = std::move(bytes);
    speakerName = name;
}

juce::String TMRVCProcessor::currentSpeakerName() const {
    std::lock_guard<std::mutex> lock(stateLock);
    return speakerName;
}

juce::String TMRVCProcessor::status() const {
    std::lock_guard<std::mutex> lock(stateLock);
    return statusText;
}

void TMRVCProcessor::setStatus(const juce::String& s) {
    std::lock_guard<std::mutex> lock(stateLock);
    statusText = s;
}

tmrvc_statistics TMRVCProcessor::statistics() const {
    tmrvc_statistics s {};
    if (engine != nullptr) tmrvc_get_statistics(engine, &s, sizeof s);
    return s;
}

void TMRVCProcessor::getStateInformation(juce::MemoryBlock& destData) {
    auto state = parameters.copyState();
    juce::ValueTree speaker("speaker");
    {
        std::lock_guard<std::mutex> lock(stateLock);
        speaker.setProperty("name", speakerName, nullptr);
        speaker.setProperty("bytes", speakerBytes.toBase64Encoding(), nullptr);
    }
    state.removeChild(state.getChildWithName("speaker"), nullptr);
    state.appendChild(speaker, nullptr);
    if (auto xml = state.createXml()) copyXmlToBinary(*xml, destData);
}

void TMRVCProcessor::setStateInformation(const void* data, int sizeInBytes) {
    auto xml = getXmlFromBinary(data, sizeInBytes);
    if (xml == nullptr || !xml->hasTagName(parameters.state.getType())) return;
    auto state = juce::ValueTree::fromXml(*xml);
    auto speaker = state.getChildWithName("speaker");
    juce::MemoryBlock bytes;
    const bool hasBytes = speaker.isValid() && bytes.fromBase64Encoding(speaker.getProperty("bytes").toString()) && bytes.getSize() > 0;
    const auto name = speaker.getProperty("name").toString();
    state.removeChild(speaker, nullptr);
    lastSpeakerIndex = juce::roundToInt(static_cast<float>(state.getChildWithProperty("id", "speaker").getProperty("value", 0)));
    parameters.replaceState(state);
    pushParameters();
    loader.removeAllJobs(false, 1000);
    if (hasBytes) postSpeakerBytes(bytes, name);   // the saved speaker itself, not whatever the index names here
}

juce::AudioProcessorEditor* TMRVCProcessor::createEditor() { return new TMRVCEditor(*this); }

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter() { return new TMRVCProcessor(); }
