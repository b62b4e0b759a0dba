#pragma once

#include <juce_audio_processors/juce_audio_processors.h>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include "tmrvc.h"

/// The TMRVC voice changer as a JUCE plugin: a thin layer over the C API (libtmrvc.so).
/// Mono in (the input channels averaged), the converted signal on every output channel.
class TMRVCProcessor : public juce::AudioProcessor, private juce::AudioProcessorValueTreeState::Listener, private juce::Timer {
public:
    TMRVCProcessor();
    ~TMRVCProcessor() override;

    void prepareToPlay(double sampleRate, int samplesPerBlock) override;
    void releaseResources() override {}
    bool isBusesLayoutSupported(const BusesLayout& layouts) const override;
    void processBlock(juce::AudioBuffer<float>&, juce::MidiBuffer&) override;
    using AudioProcessor::processBlock;

    juce::AudioProcessorEditor* createEditor() override;
    bool hasEditor() const override { return true; }
    const juce::String getName() const override { return "TMRVC"; }
    bool acceptsMidi() const override { return false; }
    bool producesMidi() const override { return false; }
    double getTailLengthSeconds() const override { return 0.1; }
    int getNumPrograms() override { return 1; }
    int getCurrentProgram() override { return 0; }
    void setCurrentProgram(int) override {}
    const juce::String getProgramName(int) override { return {}; }
    void changeProgramName(int, const juce::String&) override {}

    /// Parameters, the speaker file's bytes and name (a saved project reopens on another machine).
    void getStateInformation(juce::MemoryBlock& destData) override;
    void setStateInformation(const void* data, int sizeInBytes) override;

    juce::AudioProcessorValueTreeState parameters;

    /// Loads a speaker file on a background thread (also from the editor's file chooser).
    void loadSpeakerFile(const juce::File& file);
    /// Bundled speakers (models folder) then the user's (~/.config/tmrvc/speakers), as the
    /// speaker parameter indexes them.
    const juce::Array<juce::File>& speakerFiles() const { return speakers; }
    juce::String currentSpeakerName() const;
    /// Last error (models, speaker, sample rate) for the editor; empty when fine.
    juce::String status() const;
    tmrvc_statistics statistics() const;
    float inputLevel() const { return inputPeak.load(); }
    float outputLevel() const { return outputPeak.load(); }
    double currentSampleRate() const { return preparedRate; }
    juce::File resourceDirectory() const;

private:
    void parameterChanged(const juce::String& id, float value) override;
    void timerCallback() override;
    void pushParameters();
    void setStatus(const juce::String& s);
    void postSpeakerBytes(juce::MemoryBlock bytes, juce::String name);

    tmrvc_engine* engine = nullptr;
    /// TMRVC_PLUGIN_TRACE set: prepare calls and parameter changes go to stderr.
    const bool trace = std::getenv("TMRVC_PLUGIN_TRACE") != nullptr;
    juce::Array<juce::File> speakers;
    std::vector<float> mono;
    std::atomic<bool> prepared { false };
    std::atomic<float> inputPeak { 0 }, outputPeak { 0 };
    double preparedRate = 0;
    int lastReportedLatency = -1;
    juce::ThreadPool loader { 1 };
    mutable std::mutex stateLock;     // guards the fields below (never taken on the audio thread)
    juce::MemoryBlock speakerBytes;
    juce::String speakerName, statusText;
    std::atomic<int> lastSpeakerIndex { -1 };

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(TMRVCProcessor)
};
